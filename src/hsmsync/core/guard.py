"""The lockout guard: refuse plans that would leave nobody (or not the applier) able to manage access.

Checked on the state the plan would produce, change by change, with the same role catalog the
service uses. `--allow-lockout` is the explicit override.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hsmsync.core.capabilities import permits
from hsmsync.core.catalog import DATA_ACTION_PREFIX, builtin_data_roles, management_roles
from hsmsync.core.grants import Grant, effective_data_actions, grants_from_live, hsm_roles
from hsmsync.core.plan import Action, Change, Kind, Plan, Plane
from hsmsync.core.scopes import arm_scope_key, data_scope_covers
from hsmsync.core.state import LiveState
from hsmsync.core.state_edits import apply_to_state

WRITE_ASSIGNMENTS = DATA_ACTION_PREFIX + "roleAssignments/write/action"
ARM_WRITE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments/write"


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity applying the plan: its object id and the groups it is a member of."""

    object_id: str
    group_ids: tuple[str, ...] = ()

    @property
    def ids(self) -> frozenset[str]:
        return frozenset({self.object_id.lower(), *(g.lower() for g in self.group_ids)})


def _needed_action(change: Change) -> str:
    if change.kind is Kind.ROLE_DEFINITION:
        verb = "delete" if change.action is Action.DELETE else "write"
        return f"{DATA_ACTION_PREFIX}roleDefinitions/{verb}/action"
    verb = "delete" if change.action is Action.DELETE else "write"
    return f"{DATA_ACTION_PREFIX}roleAssignments/{verb}/action"


def _holders(grants: Iterable[Grant], hsm: str, action: str, scope: str) -> set[str]:
    return {
        g.principal_id
        for g in grants
        if g.plane is Plane.DATA
        and g.target == hsm
        and data_scope_covers(g.scope, scope)
        and any(a.lower() == action.lower() for a in g.data_actions)
    }


def _arm_holders(grants: Iterable[Grant], resource_scopes: set[str]) -> set[str]:
    def covers(scope: str) -> bool:
        key = arm_scope_key(scope)
        return any(r == key or r.startswith(key + "/") for r in resource_scopes)

    roles = {r.name: r for r in management_roles()}

    def allowed(g: Grant) -> bool:
        role = roles.get(g.role_id)
        if role is None:  # a role hsmsync does not know: assume it cannot, so the guard errs safe
            return False
        return permits(role.permissions, ARM_WRITE_ASSIGNMENTS, data=False)

    return {g.principal_id for g in grants if g.plane is Plane.MANAGEMENT and covers(g.scope) and allowed(g)}


def check_lockout(plan: Plan, live: LiveState, *, caller: Caller | None = None) -> list[str]:
    """Reasons to refuse the plan (empty when it is safe)."""
    problems = _builtin_deletes(plan)
    after = live
    states = [live]
    for change in plan.changes:
        after, _ = apply_to_state(after, change)
        states.append(after)
    before_grants, after_grants = grants_from_live(live, {}), grants_from_live(after, {})
    for hsm in sorted({c.target for c in plan.changes if c.plane is Plane.DATA}):
        if _holders(before_grants, hsm, WRITE_ASSIGNMENTS, "/") and not _holders(
            after_grants, hsm, WRITE_ASSIGNMENTS, "/"
        ):
            problems.append(
                f"{hsm}: after this plan nobody could manage role assignments at '/' "
                "(no principal would hold roleAssignments/write/action there through any role)"
            )
    resources = {arm_scope_key(h.resource_id) for h in live.hsms.values() if h.resource_id}
    touches_arm = any(c.plane is Plane.MANAGEMENT for c in plan.changes)
    if touches_arm and _arm_holders(before_grants, resources) and not _arm_holders(after_grants, resources):
        problems.append(
            "Azure RBAC: after this plan no known principal could manage role assignments on the "
            "HSM resources (Microsoft.Authorization/roleAssignments/write)"
        )
    if caller is not None:
        problems += _caller_problems(plan, states, caller)
    return problems


def _builtin_deletes(plan: Plan) -> list[str]:
    builtin = {r.name for r in builtin_data_roles()}
    return [
        f"{c.target}: change #{c.order} deletes the built-in role {c.role} ({c.role_id}); "
        "built-in roles are never deleted"
        for c in plan.changes
        if c.kind is Kind.ROLE_DEFINITION and c.action is Action.DELETE and c.role_id in builtin
    ]


def _caller_holds(state: LiveState, hsm: str, action: str, scope: str, mine: frozenset[str]) -> bool:
    """Does the caller (or one of its groups) hold `action` at `scope`? Only its own assignments
    are looked at, so checking every step of a large plan stays cheap."""
    h = state.hsms.get(hsm)
    if h is None:
        return False
    wanted = action.lower()
    roles = hsm_roles(h)
    for a in h.role_assignments:
        if a.principal_id not in mine or not data_scope_covers(a.scope, scope):
            continue
        role = roles.get(a.role_definition_id)
        if role is not None and any(x.lower() == wanted for x in effective_data_actions(role)):
            return True
    return False


def _caller_problems(plan: Plan, states: list[LiveState], caller: Caller) -> list[str]:
    mine = caller.ids
    for i, change in enumerate(plan.changes):
        if change.plane is not Plane.DATA:
            continue
        action, scope = _needed_action(change), change.scope if change.kind is Kind.ROLE_ASSIGNMENT else "/"
        if not _caller_holds(states[0], change.target, action, scope, mine):
            continue  # it never had this right: a permission error, not a lockout made by this plan
        if not _caller_holds(states[i], change.target, action, scope, mine):
            lost_by = next(
                c.order
                for j, c in enumerate(plan.changes[:i])
                if not _caller_holds(states[j + 1], change.target, action, scope, mine)
            )
            return [
                f"{change.target}: change #{lost_by} removes the applying identity's own "
                f"{action.removeprefix(DATA_ACTION_PREFIX)} at '{scope}', so change #{change.order} "
                "could not be applied"
            ]
    return []
