"""The planner: a pure function (desired, live) -> Plan. No I/O, no clock, deterministic output."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from hsmsync.core.catalog import builtin_data_roles, management_role_map
from hsmsync.core.desired import (
    AssignmentKey,
    DesiredAssignment,
    DesiredHsm,
    DesiredState,
    PrincipalInfo,
    assignment_key,
    management_target,
)
from hsmsync.core.expiry import expiry_text
from hsmsync.core.ids import deterministic_name
from hsmsync.core.limits import fit_limits
from hsmsync.core.live_keys import LiveByKey
from hsmsync.core.missing_keys import missing_key_warnings
from hsmsync.core.plan import (
    Action,
    Change,
    FieldChange,
    Kind,
    Plan,
    Plane,
    RoleAssignmentSubject,
    RoleDefinitionSubject,
    UnmanagedItem,
)
from hsmsync.core.planner_resources import plan_resources
from hsmsync.core.risk import RiskContext, change_risks
from hsmsync.core.roledefs import diff_role_definition, granted_data_actions
from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment, HsmState, LiveState, RoleDefinition
from hsmsync.core.target import ARM, Target, TargetKind

ADMINISTRATOR_ROLE_ID = "a290e904-7015-4bba-90c8-60543313cdb4"


def plan_changes(desired: DesiredState, live: LiveState, *, notes: Iterable[str] = ()) -> Plan:
    """Diff desired against live; returns the ordered plan (make before break)."""
    found: list[Change | UnmanagedItem] = []
    warnings: list[str] = list(desired.warnings)
    by_hsm: dict[str, dict[AssignmentKey, DesiredAssignment]] = {}
    data = Plane.DATA  # (a local: an enum member's lookup costs per assignment)
    for a in desired.assignments:
        if a.plane is data:
            by_hsm.setdefault(a.target, {})[a.key] = a
    for name in sorted(desired.hsms):
        hsm = desired.hsms[name]
        live_hsm = live.hsms.get(name) or HsmState(url=hsm.url, resource_id=hsm.resource_id)
        warnings += _duplicate_role_name_warnings(hsm, live_hsm)
        found += _plan_hsm(hsm, live_hsm, by_hsm.get(name, {}), desired)
    found += _plan_arm(desired, live)
    changes = [f for f in found if isinstance(f, Change)]
    unmanaged = [f for f in found if isinstance(f, UnmanagedItem)]
    warnings += missing_key_warnings(desired, live, changes)
    resources = plan_resources(desired, live)
    changes += resources.changes
    warnings += resources.warnings
    fitted = fit_limits(sorted(changes, key=_sort_key), live)
    contexts = {n: RiskContext(_role_definitions(h, live.hsms.get(n))) for n, h in desired.hsms.items()}
    no_roles = RiskContext({})

    def context(c: Change) -> RiskContext:
        return contexts.get(c.target.name, no_roles) if c.target.kind is TargetKind.HSM else no_roles

    return Plan(
        changes=tuple(replace(c, risks=change_risks(c, context(c))) for c in fitted.changes),
        unmanaged=tuple(
            sorted(unmanaged, key=lambda u: (u.plane, u.target.key, u.scope, u.role, u.principal_id))
        ),
        warnings=(*warnings, *fitted.warnings),
        notes=(*notes, *_expiry_notes(desired)),
        refusals=(*resources.refusals, *fitted.refusals),
    )


def _expiry_notes(desired: DesiredState) -> Iterator[str]:
    """Each time-bound grant, so a reviewer sees when it ends (the nightly run removes it then)."""
    for a in desired.assignments:
        if a.expires is not None:
            where = "" if a.plane is Plane.MANAGEMENT else f" on {a.target}"
            yield (
                f"{a.principal.key}: {a.role} at {a.scope}{where} expires {expiry_text(a.expires)} "
                f"({', '.join(a.sources)}); after that, drift reports it and apply removes it"
            )


def _expired_reason(desired: DesiredState, key: AssignmentKey) -> str | None:
    """Why a live assignment goes whatever `prune` says: its declared `expires` has passed."""
    for a in desired.expired:
        if a.key == key and a.expires is not None:
            return f"expired at {expiry_text(a.expires)} (declared by {', '.join(a.sources)} with expires)"
    return None


def _sort_key(c: Change) -> tuple[object, ...]:
    return (
        c.phase,
        c.plane != Plane.DATA,
        c.target.key,
        c.scope.lower(),
        c.role.lower(),
        c.principal or "",
        c.principal_id or "",
        c.name,
    )


def _role_definitions(hsm: DesiredHsm, live_hsm: HsmState | None) -> dict[str, RoleDefinition]:
    builtins = (live_hsm.builtin_role_definitions if live_hsm else None) or builtin_data_roles()
    customs = live_hsm.role_definitions if live_hsm else ()
    return {r.name: r for r in (*builtins, *customs, *hsm.custom_roles)}


def _role_names(hsm: DesiredHsm, live_hsm: HsmState) -> dict[str, str]:
    builtins = live_hsm.builtin_role_definitions or builtin_data_roles()
    names = {r.name: r.role_name for r in (*builtins, *live_hsm.role_definitions)}
    names.update({r.name: r.role_name for r in hsm.custom_roles})
    return names


def _plan_hsm(
    hsm: DesiredHsm, live_hsm: HsmState, wanted: dict[AssignmentKey, DesiredAssignment], desired: DesiredState
) -> Iterator[Change | UnmanagedItem]:
    live_custom = {r.name: r for r in live_hsm.role_definitions}
    for role in hsm.custom_roles:
        yield from _role_definition_change(hsm.name, role, live_custom.get(role.name))
    live_by_key = LiveByKey(hsm.name, live_hsm.role_assignments)
    yield from (_create_assignment(a) for key, a in wanted.items() if key not in live_by_key.first)
    yield from _undeclared_data_assignments(hsm, live_hsm, wanted, live_by_key, desired)
    if hsm.prune:
        desired_role_ids = {r.name for r in hsm.custom_roles}
        for role_id, live_role in sorted(live_custom.items()):
            if role_id not in desired_role_ids:
                yield _delete_role_definition(hsm.name, role_id, live_role)


def _undeclared_data_assignments(
    hsm: DesiredHsm,
    live_hsm: HsmState,
    wanted: dict[AssignmentKey, DesiredAssignment],
    live_by_key: LiveByKey,
    desired: DesiredState,
) -> Iterator[Change | UnmanagedItem]:
    names = _role_names(hsm, live_hsm)
    initial_admins = {i.lower() for i in live_hsm.initial_admin_object_ids}
    for key, items in live_by_key.undeclared(wanted):
        for la in items:
            principal = desired.principals.get(la.principal_id)
            is_initial = (
                la.principal_id in initial_admins
                and la.role_definition_id == ADMINISTRATOR_ROLE_ID
                and la.scope == "/"
            )
            prune = hsm.prune and (not is_initial or hsm.prune_initial_admins)
            expired = _expired_reason(desired, key)
            if expired:
                prune, reason = True, expired
            elif prune:
                reason = "not declared in the manifest; HSM has prune: true"
            elif is_initial and hsm.prune:
                reason = (
                    "initial administrator made by Azure at creation (kept unless prune_initial_admins: true)"
                )
            else:
                reason = "not declared in the manifest; HSM has prune: false"
            yield _undeclared(
                _Undeclared(
                    Target.hsm(hsm.name),
                    key,
                    la,
                    names.get(la.role_definition_id, la.role_definition_id),
                    principal,
                    principal.type if principal else None,
                ),
                prune=prune,
                reason=reason,
            )


def _role_definition(hsm: str, action: Action, reason: str, subject: RoleDefinitionSubject) -> Change:
    return Change(
        id=f"data:{hsm}:role_definition:{subject.role_id}",
        action=action,
        target=Target.hsm(hsm),
        reason=reason,
        subject=subject,
    )


def _delete_role_definition(hsm: str, role_id: str, live_role: RoleDefinition) -> Change:
    reason = "custom role not declared in the manifest; HSM has prune: true"
    subject = RoleDefinitionSubject(Plane.DATA, "/", role_id, live_role.role_name or role_id)
    return _role_definition(hsm, Action.DELETE, reason, subject)


def _duplicate_role_name_warnings(hsm: DesiredHsm, live_hsm: HsmState) -> Iterator[str]:
    """A custom role to create whose display name a live custom role already has."""
    live_ids = {r.name for r in live_hsm.role_definitions}
    for role in hsm.custom_roles:
        if role.name in live_ids:
            continue
        same_name = [r for r in live_hsm.role_definitions if r.role_name.lower() == role.role_name.lower()]
        if same_name:
            yield (
                f"{hsm.name}: a custom role named '{role.role_name}' already exists as {same_name[0].name}; "
                f"set `id: {same_name[0].name}` on it in the manifest to adopt it instead of creating another"
            )


def _role_definition_change(
    hsm: str, role: RoleDefinition, live_role: RoleDefinition | None
) -> Iterator[Change]:
    subject = RoleDefinitionSubject(
        Plane.DATA,
        "/",
        role.name,
        role.role_name,
        definition=role,
        added_data_actions=granted_data_actions(role),
    )
    base = _role_definition(hsm, Action.CREATE, "custom role declared in the manifest", subject)
    if live_role is None:
        yield base
        return
    diff = diff_role_definition(live_role, role)
    if diff is None:
        return
    fields, added, removed = diff
    yield replace(
        base,
        action=Action.UPDATE,
        reason="custom role differs from the manifest: " + ", ".join(f.path for f in fields),
        subject=replace(
            subject, field_changes=fields, added_data_actions=added, removed_data_actions=removed
        ),
    )


def _create_assignment(a: DesiredAssignment, target: Target | None = None) -> Change:
    target = target or Target.hsm(a.target)
    return Change(
        id=_change_id(target, a.key),
        action=Action.CREATE,
        target=target,
        reason="declared by "
        + ", ".join(a.sources)
        + (f"; expires {expiry_text(a.expires)}" if a.expires is not None else ""),
        subject=RoleAssignmentSubject(
            plane=a.plane,
            scope=a.scope,
            name=deterministic_name(*a.key),
            role=a.role,
            role_id=a.role_id,
            principal=a.principal.key,
            principal_id=a.principal.id,
            principal_type=a.principal.type,
            condition=a.condition,
            condition_version=a.condition_version,
        ),
    )


def _condition_update(a: DesiredAssignment, live: ArmRoleAssignment, target: Target) -> Change | None:
    """The live assignment's condition set to the manifest's (Azure updates it in place, by name)."""
    fields = tuple(
        FieldChange(path, old, new)
        for path, old, new in (
            ("condition", live.condition, a.condition),
            ("condition_version", live.condition_version, a.condition_version),
        )
        if old != new
    )
    if not fields:
        return None
    change = _create_assignment(a, target)
    assert isinstance(change.subject, RoleAssignmentSubject)
    how = "removed" if a.condition is None else "added" if live.condition is None else "changed"
    return replace(
        change,
        action=Action.UPDATE,
        reason=f"condition {how} by " + ", ".join(a.sources),
        subject=replace(
            change.subject,
            name=live.name,
            principal_type=live.principal_type,
            field_changes=fields,
        ),
    )


@dataclass(frozen=True, slots=True)
class _Undeclared:
    """A live assignment the manifest does not declare, with what the plan says about it."""

    target: Target
    key: AssignmentKey
    live: DataRoleAssignment | ArmRoleAssignment
    role_name: str
    principal: PrincipalInfo | None
    principal_type: str | None


def _undeclared(u: _Undeclared, *, prune: bool, reason: str) -> Change | UnmanagedItem:
    """Deleted when pruning, else reported as unmanaged."""
    plane = Plane.DATA if u.target.kind is TargetKind.HSM else Plane.MANAGEMENT
    principal = u.principal.key if u.principal else None
    if prune:
        return Change(
            id=_change_id(u.target, u.key),
            action=Action.DELETE,
            target=u.target,
            reason=reason,
            subject=RoleAssignmentSubject(
                plane=plane,
                scope=u.live.scope,
                name=u.live.name,
                role=u.role_name,
                role_id=u.live.role_definition_id,
                principal=principal,
                principal_id=u.live.principal_id,
                principal_type=u.principal_type,
            ),
        )
    return UnmanagedItem(
        plane=plane,
        target=u.target,
        scope=u.live.scope,
        name=u.live.name,
        role=u.role_name,
        role_id=u.live.role_definition_id,
        principal_id=u.live.principal_id,
        principal=principal,
        reason=reason,
    )


def _change_id(target: Target, key: AssignmentKey) -> str:
    return (
        f"{key.plane}:{target.key}:{Kind.ROLE_ASSIGNMENT.value}:{key.scope}:{key.role_id}:{key.principal_id}"
    )


def _plan_arm(desired: DesiredState, live: LiveState) -> Iterator[Change | UnmanagedItem]:
    roles = management_role_map(
        (*live.arm.role_definitions, *desired.arm_roles), live.arm.builtin_role_definitions
    )
    names = {guid: r.role_name for guid, r in roles.items()}
    wanted = {a.key: a for a in desired.assignments if a.plane is Plane.MANAGEMENT}
    scopes = {assignment_key(Plane.MANAGEMENT, ARM.key, s, "", "").scope for s in desired.arm_scopes}
    live_by_key: dict[AssignmentKey, list[ArmRoleAssignment]] = {}
    for la in live.arm.role_assignments:
        key = assignment_key(Plane.MANAGEMENT, ARM.key, la.scope, la.role_definition_id, la.principal_id)
        # Only what hsmsync is responsible for: declared principals at declared scopes.
        if key.scope in scopes and la.principal_id in desired.principals:
            live_by_key.setdefault(key, []).append(la)
    for key, a in wanted.items():
        target = management_target(a.scope, desired.vaults)
        if key not in live_by_key:
            yield _create_assignment(a, target)
        elif (update := _condition_update(a, live_by_key[key][0], target)) is not None:
            yield update
    prune = desired.management_prune
    reason = f"not declared in the manifest; management.prune: {str(prune).lower()}"
    for key, items in live_by_key.items():
        if key in wanted:
            continue
        for la in items:
            principal = desired.principals[la.principal_id]
            role = names.get(la.role_definition_id, la.role_definition_id)
            target = management_target(la.scope, desired.vaults)
            found = _Undeclared(target, key, la, role, principal, la.principal_type)
            expired = _expired_reason(desired, key)
            yield _undeclared(found, prune=prune or expired is not None, reason=expired or reason)


__all__ = ["FieldChange", "plan_changes"]
