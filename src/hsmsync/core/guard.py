"""The lockout guard: refuse plans that would leave nobody (or not the applier) able to manage access.

Checked on live state read by hsmsync itself (never a plan file's snapshot), with the same role
catalog the service uses:
- nobody would hold roleAssignments/write at '/' on an HSM (or on the HSM resources in Azure RBAC);
- a change removes a right the applier needs for a later change of the same plan;
- the plan takes from the applier a right it needs to plan and apply again (applier_rights.py),
  whether by deleting its assignment or by narrowing a role it holds.
Linear in the plan: the after-state is built once, and the applier's rights are followed through
its own assignments only. `--allow-lockout` is the explicit override.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from hsmsync.core.applier_rights import Right
from hsmsync.core.capabilities import permits
from hsmsync.core.catalog import DATA_ACTION_PREFIX, builtin_data_roles, management_role_map
from hsmsync.core.conditions import Verdict, effective_condition, verdict_for_each_role
from hsmsync.core.grants import Grant, grants_from_live, hsm_roles
from hsmsync.core.plan import Action, Change, Kind, Plan, Plane
from hsmsync.core.scopes import arm_scope_key, data_scope_covers
from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment, LiveState, RoleDefinition
from hsmsync.core.state_edits import state_after_plan
from hsmsync.core.target import Target

WRITE_ASSIGNMENTS = DATA_ACTION_PREFIX + "roleAssignments/write/action"
ARM_WRITE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments/write"


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity applying the plan: its object id and its groups, by where they count.

    The Managed HSM data plane honours a user's groups but not a service principal's (Managed HSM
    role-management doc, note); Azure RBAC honours both. So `group_ids` are the groups that count
    everywhere (a user's: its token's `groups` claim), `arm_only_group_ids` those that count in
    Azure RBAC only (a service principal's, found in Microsoft Graph).
    """

    object_id: str
    group_ids: tuple[str, ...] = ()
    arm_only_group_ids: tuple[str, ...] = ()

    @property
    def data_ids(self) -> frozenset[str]:
        """Whose data-plane assignments give the caller rights: itself and its user groups."""
        return frozenset({self.object_id.lower(), *(g.lower() for g in self.group_ids)})

    @property
    def arm_ids(self) -> frozenset[str]:
        """Whose Azure role assignments give the caller rights: itself and all its groups."""
        return self.data_ids | {g.lower() for g in self.arm_only_group_ids}


def role_allows(role: RoleDefinition, action: str, *, plane: Plane) -> bool:
    """Does `role` allow `action`? Data plane: its data actions; ARM: its actions (each permission
    block evaluated on its own, see capabilities.permits)."""
    return permits(role.permissions, action, data=plane is Plane.DATA)


def _managed_at_root(grants: Iterable[Grant]) -> set[str]:
    """The HSMs where someone holds roleAssignments/write at '/' (one pass over the grants)."""
    wanted = WRITE_ASSIGNMENTS.lower()
    return {
        g.target
        for g in grants
        if g.plane is Plane.DATA
        and data_scope_covers(g.scope, "/")
        and any(a.lower() == wanted for a in g.data_actions)
    }


def _arm_covers(assigned: str, scope: str) -> bool:
    key, wanted = arm_scope_key(assigned), arm_scope_key(scope)
    return wanted == key or wanted.startswith(key + "/")


def _arm_holders(state: LiveState, resource_scopes: set[str]) -> set[str]:
    """Who may write role assignments on the HSM resources, through built-in or custom Azure roles
    (a role hsmsync does not know counts as unable, so the guard errs safe; so does an assignment
    whose condition restricts which roles it may assign)."""
    roles = management_role_map(state.arm.role_definitions, state.arm.builtin_role_definitions)
    return {
        a.principal_id
        for a in state.arm.role_assignments
        if any(_arm_covers(a.scope, r) for r in resource_scopes)
        and (role := roles.get(a.role_definition_id)) is not None
        and role_allows(role, ARM_WRITE_ASSIGNMENTS, plane=Plane.MANAGEMENT)
        and (
            (condition := effective_condition(a.condition, role.permissions)) is None
            or verdict_for_each_role(condition, ARM_WRITE_ASSIGNMENTS, ()) is Verdict.ALLOWED
        )
    }


def check_lockout(
    plan: Plan,
    live: LiveState,
    *,
    caller: Caller | None = None,
    keep: Sequence[Right] = (),
    after: LiveState | None = None,
) -> list[str]:
    """Reasons to refuse the plan (empty when it is safe). `keep`: the rights the caller needs to
    plan and apply again; `after`: the state the plan leaves (computed when not given)."""
    problems = _builtin_deletes(plan)
    if after is None:
        after = state_after_plan(live, plan)
    managed_before = _managed_at_root(grants_from_live(live, {}))
    managed_after = _managed_at_root(grants_from_live(after, {}))
    for hsm in sorted({c.target.name for c in plan.changes if c.plane is Plane.DATA}):
        if hsm in managed_before and hsm not in managed_after:
            problems.append(
                f"{hsm}: after this plan nobody could manage role assignments at '/' "
                "(no principal would hold roleAssignments/write/action there through any role)"
            )
    resources = {arm_scope_key(h.resource_id) for h in live.hsms.values() if h.resource_id}
    touches_arm = any(c.plane is Plane.MANAGEMENT for c in plan.changes)
    if touches_arm and _arm_holders(live, resources) and not _arm_holders(after, resources):
        problems.append(
            "Azure RBAC: after this plan no known principal could manage role assignments on the "
            "HSM resources (Microsoft.Authorization/roleAssignments/write)"
        )
    if caller is not None:
        keep = _with_planned_roles(keep, plan, caller)
        problems += _mid_apply_problems(plan, live, caller)
        problems += _kept_rights_problems(
            plan, _CallerView.of(live, caller), _CallerView.of(after, caller), keep
        )
    return problems


def _with_planned_roles(keep: Sequence[Right], plan: Plan, caller: Caller) -> list[Right]:
    """Azure role-assignment rights with the roles this plan writes or deletes at their scope
    too: a condition on the caller's right must allow those as well as the manifest's (but for
    its own assignments the plan deletes: those are gone, nothing later touches them)."""
    planned: dict[str, set[str]] = {}
    for c in plan.changes:
        own_delete = c.action is Action.DELETE and (c.principal_id or "").lower() in caller.arm_ids
        if c.plane is Plane.MANAGEMENT and c.kind is Kind.ROLE_ASSIGNMENT and c.role_id and not own_delete:
            planned.setdefault(arm_scope_key(c.scope), set()).add(c.role_id)
    out = []
    for r in keep:
        extra = planned.get(arm_scope_key(r.scope), set()) if r.action in _ARM_ROLE_WRITES else set()
        out.append(replace(r, role_ids=tuple(sorted({*r.role_ids, *extra}))) if extra else r)
    return out


_ARM_ROLE_WRITES = (ARM_WRITE_ASSIGNMENTS, "Microsoft.Authorization/roleAssignments/delete")


def _builtin_deletes(plan: Plan) -> list[str]:
    builtin = {r.name for r in builtin_data_roles()}
    return [
        f"{c.target}: change #{order} deletes the built-in role {c.role} ({c.role_id}); "
        "built-in roles are never deleted"
        for order, c in plan.numbered()
        if c.kind is Kind.ROLE_DEFINITION and c.action is Action.DELETE and c.role_id in builtin
    ]


@dataclass(frozen=True, slots=True)
class _Through:
    """How the caller holds a right: one of its assignments and that assignment's role."""

    assignment: str
    role_id: str
    role_name: str


@dataclass(slots=True)
class _CallerView:
    """The caller's own assignments (per HSM, and in Azure RBAC) and the roles they can point at."""

    data: dict[str, dict[str, DataRoleAssignment]] = field(default_factory=dict)
    roles: dict[str, dict[str, RoleDefinition]] = field(default_factory=dict)
    arm: tuple[ArmRoleAssignment, ...] = ()
    arm_roles: Mapping[str, RoleDefinition] = field(default_factory=dict)

    @classmethod
    def of(cls, state: LiveState, caller: Caller) -> _CallerView:
        # Its own assignments on each plane: a service principal's groups count in Azure RBAC only.
        mine, arm_mine = caller.data_ids, caller.arm_ids
        return cls(
            data={
                name: {a.name: a for a in h.role_assignments if a.principal_id in mine}
                for name, h in state.hsms.items()
            },
            roles={name: hsm_roles(h) for name, h in state.hsms.items()},
            arm=tuple(a for a in state.arm.role_assignments if a.principal_id in arm_mine),
            arm_roles=management_role_map(state.arm.role_definitions, state.arm.builtin_role_definitions),
        )

    def through(self, right: Right) -> list[_Through]:
        """The caller's assignments that grant `right` (empty: it does not hold it)."""
        out = []
        if right.plane is Plane.DATA:
            roles = self.roles.get(right.target, {})
            for a in self.data.get(right.target, {}).values():
                role = roles.get(a.role_definition_id)
                if (
                    role is not None
                    and data_scope_covers(a.scope, right.scope)
                    and role_allows(role, right.action, plane=Plane.DATA)
                ):
                    out.append(_Through(a.name, role.name, role.role_name))
            return out
        for b, mrole in self._arm_granting(right):
            condition = effective_condition(b.condition, mrole.permissions)
            if condition is None or _condition_verdict(condition, right) is Verdict.ALLOWED:
                out.append(_Through(b.name, mrole.name, mrole.role_name))
        return out

    def _arm_granting(self, right: Right) -> list[tuple[ArmRoleAssignment, RoleDefinition]]:
        """The caller's Azure role assignments whose role grants `right`, conditions aside."""
        out = []
        for b in self.arm:
            mrole = self.arm_roles.get(b.role_definition_id)
            if (
                mrole is not None
                and _arm_covers(b.scope, right.scope)
                and role_allows(mrole, right.action, plane=Plane.MANAGEMENT)
            ):
                out.append((b, mrole))
        return out

    def not_relied_on(self, right: Right) -> list[str]:
        """The caller's conditional assignments that would grant `right` but whose condition does
        not allow every operation hsmsync needs it for: the guard does not count them."""
        out = []
        for b, mrole in self._arm_granting(right) if right.plane is Plane.MANAGEMENT else []:
            condition = effective_condition(b.condition, mrole.permissions)
            if condition is None or (verdict := _condition_verdict(condition, right)) is Verdict.ALLOWED:
                continue
            roles = f" for the roles {', '.join(right.role_ids)}" if right.role_ids else ""
            how = "denies" if verdict is Verdict.DENIED else "could not be evaluated for"
            out.append(
                f"{mrole.role_name} ({b.name}) holds it only under a condition that {how} "
                f"{right.action.rsplit('/', 1)[-1]}{roles}: {condition}"
            )
        return out


def _condition_verdict(condition: str, right: Right) -> Verdict:
    """A condition counts only for exactly what hsmsync does with the right: each role it assigns."""
    return verdict_for_each_role(condition, right.action, right.role_ids)


def _needed(change: Change) -> Right:
    noun = "roleDefinitions" if change.kind is Kind.ROLE_DEFINITION else "roleAssignments"
    verb = "delete" if change.action is Action.DELETE else "write"
    scope = change.scope if change.kind is Kind.ROLE_ASSIGNMENT else "/"
    return Right(Plane.DATA, change.target.name, f"{DATA_ACTION_PREFIX}{noun}/{verb}/action", scope, "")


def _edit_view(view: _CallerView, change: Change, mine: frozenset[str]) -> bool:
    """Follow one data-plane change in the caller's view; True when it touched the caller."""
    if change.kind is Kind.ROLE_ASSIGNMENT and change.principal_id in mine:
        own = view.data.setdefault(change.target.name, {})
        if change.action is Action.DELETE:
            return own.pop(change.name, None) is not None
        assert change.principal_id is not None
        own[change.name] = DataRoleAssignment(
            name=change.name,
            scope=change.scope,
            role_definition_id=change.role_id,
            principal_id=change.principal_id,
        )
        return True
    if change.kind is Kind.ROLE_DEFINITION:
        roles = view.roles.setdefault(change.target.name, {})
        if change.action is Action.DELETE:
            roles.pop(change.name, None)
        elif change.definition is not None:
            roles[change.name] = change.definition
        return any(
            a.role_definition_id == change.name for a in view.data.get(change.target.name, {}).values()
        )
    return False


def _mid_apply_problems(plan: Plan, live: LiveState, caller: Caller) -> list[str]:
    """A change that needs a right an earlier change of the same plan took from the caller."""
    start, now, mine = _CallerView.of(live, caller), _CallerView.of(live, caller), caller.data_ids
    lost_at: list[tuple[int, dict[str, DataRoleAssignment], dict[str, RoleDefinition]]] = []
    for order, change in plan.numbered():
        if change.plane is not Plane.DATA or change.kind not in (Kind.ROLE_ASSIGNMENT, Kind.ROLE_DEFINITION):
            continue
        need = _needed(change)
        if start.through(need) and not now.through(need):
            lost_by = next(
                (
                    order
                    for order, own, roles in lost_at
                    if not _CallerView(data={need.target: own}, roles={need.target: roles}).through(need)
                ),
                order,
            )
            return [
                f"{change.target}: change #{lost_by} removes the applying identity's own {need.short} at "
                f"'{need.scope}', so change #{order} could not be applied"
            ]
        if _edit_view(now, change, mine):
            own = dict(now.data.get(change.target.name, {}))
            lost_at.append((order, own, dict(now.roles.get(change.target.name, {}))))
    return []


def _culprits(plan: Plan, right: Right, through: list[_Through]) -> list[tuple[int, Change]]:
    names = {t.assignment for t in through}
    role_ids = {t.role_id for t in through}
    return [
        (order, c)
        for order, c in plan.numbered()
        if c.plane is right.plane
        and (c.plane is Plane.MANAGEMENT or c.target == Target.hsm(right.target))
        and (
            (c.kind is Kind.ROLE_ASSIGNMENT and c.action is Action.DELETE and c.name in names)
            or (c.kind is Kind.ROLE_DEFINITION and c.name in role_ids)
        )
    ]


def _kept_rights_problems(
    plan: Plan, before: _CallerView, after: _CallerView, keep: Sequence[Right]
) -> list[str]:
    problems = []
    for right in keep:
        held = before.through(right)
        if not held or after.through(right):
            continue  # never held (a permission error, not a lockout made by this plan) or kept
        roles = ", ".join(sorted({t.role_name for t in held}))
        by = _culprits(plan, right, held)
        which = ", ".join(
            f"#{order} ({c.action.value} {c.kind.value.replace('_', ' ')} {c.role})" for order, c in by
        )
        where = right.target if right.plane is Plane.DATA else "Azure RBAC"
        unrelied = after.not_relied_on(right)
        besides = f"; not relied on: {'; '.join(unrelied)}" if unrelied else ""
        problems.append(
            f"{where}: change{'s' if len(by) > 1 else ''} {which or '(several)'} would take from "
            f"the applying identity {right.short} at '{right.scope}' (it holds it through {roles}), "
            f"which it needs {right.why}{besides}"
        )
    return problems
