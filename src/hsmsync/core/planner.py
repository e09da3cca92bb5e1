"""The planner: a pure function (desired, live) -> Plan. No I/O, no clock, deterministic output."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from hsmsync.core.catalog import builtin_data_roles, management_role_map
from hsmsync.core.desired import (
    AssignmentKey,
    DesiredAssignment,
    DesiredHsm,
    DesiredState,
    PrincipalInfo,
    assignment_key,
)
from hsmsync.core.ids import deterministic_name
from hsmsync.core.limits import fit_limits
from hsmsync.core.missing_keys import missing_key_warnings
from hsmsync.core.plan import Action, Change, FieldChange, Kind, Plan, Plane, UnmanagedItem
from hsmsync.core.planner_resources import plan_resources
from hsmsync.core.risk import RiskContext, change_risks
from hsmsync.core.roledefs import diff_role_definition, granted_data_actions
from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment, HsmState, LiveState, RoleDefinition

ADMINISTRATOR_ROLE_ID = "a290e904-7015-4bba-90c8-60543313cdb4"


def plan_changes(desired: DesiredState, live: LiveState, *, notes: Iterable[str] = ()) -> Plan:
    """Diff desired against live; returns the ordered plan (make before break)."""
    changes: list[Change] = []
    unmanaged: list[UnmanagedItem] = []
    warnings: list[str] = []
    by_target: dict[str, dict[AssignmentKey, DesiredAssignment]] = {}
    for a in desired.assignments:
        by_target.setdefault(a.target if a.plane is Plane.DATA else "", {})[a.key] = a
    for name in sorted(desired.hsms):
        hsm = desired.hsms[name]
        live_hsm = live.hsms.get(name) or HsmState(url=hsm.url, resource_id=hsm.resource_id)
        _plan_hsm(hsm, live_hsm, by_target.get(name, {}), desired, changes, unmanaged, warnings)
    _plan_arm(desired, live, changes, unmanaged)
    warnings += missing_key_warnings(desired, live, changes)
    resources = plan_resources(desired, live)
    changes += resources.changes
    warnings += resources.warnings
    fitted = fit_limits(sorted(changes, key=_sort_key), live)
    ordered, warnings = fitted.changes, [*warnings, *fitted.warnings]
    contexts = {n: RiskContext(_role_definitions(h, live.hsms.get(n))) for n, h in desired.hsms.items()}
    no_roles = RiskContext({})
    for i, c in enumerate(ordered, start=1):
        # The changes were made above and have not escaped yet: completing them in place
        # avoids copying thousands of frozen values.
        object.__setattr__(c, "order", i)
        object.__setattr__(c, "risks", change_risks(c, contexts.get(c.target, no_roles)))
    return Plan(
        changes=tuple(ordered),
        unmanaged=tuple(
            sorted(unmanaged, key=lambda u: (u.plane, u.target, u.scope, u.role, u.principal_id))
        ),
        warnings=tuple(warnings),
        notes=tuple(notes),
        refusals=(*resources.refusals, *fitted.refusals),
    )


def _sort_key(c: Change) -> tuple[object, ...]:
    return (
        c.phase,
        c.plane != Plane.DATA,
        c.target,
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
    hsm: DesiredHsm,
    live_hsm: HsmState,
    wanted: dict[AssignmentKey, DesiredAssignment],
    desired: DesiredState,
    changes: list[Change],
    unmanaged: list[UnmanagedItem],
    warnings: list[str],
) -> None:
    names = _role_names(hsm, live_hsm)
    live_custom = {r.name: r for r in live_hsm.role_definitions}
    for role in hsm.custom_roles:
        _plan_role_definition(hsm.name, role, live_custom.get(role.name), live_custom, changes, warnings)

    live_by_key: dict[AssignmentKey, list[DataRoleAssignment]] = {}
    for la in live_hsm.role_assignments:
        key = assignment_key(Plane.DATA, hsm.name, la.scope, la.role_definition_id, la.principal_id)
        live_by_key.setdefault(key, []).append(la)

    for key, a in wanted.items():
        if key not in live_by_key:
            changes.append(_create_assignment(a))

    initial_admins = {i.lower() for i in live_hsm.initial_admin_object_ids}
    for key, items in live_by_key.items():
        if key in wanted:
            continue
        for la in items:
            role_name = names.get(la.role_definition_id, la.role_definition_id)
            principal = desired.principals.get(la.principal_id)
            is_initial = (
                la.principal_id in initial_admins
                and la.role_definition_id == ADMINISTRATOR_ROLE_ID
                and la.scope == "/"
            )
            prune = hsm.prune and (not is_initial or hsm.prune_initial_admins)
            if prune:
                reason = "not declared in the manifest; HSM has prune: true"
            elif is_initial and hsm.prune:
                reason = (
                    "initial administrator made by Azure at creation (kept unless prune_initial_admins: true)"
                )
            else:
                reason = "not declared in the manifest; HSM has prune: false"
            ptype = principal.type if principal else None
            _undeclared(
                Plane.DATA, hsm.name, key, la, role_name, principal, ptype, prune, reason, changes, unmanaged
            )

    desired_role_ids = {r.name for r in hsm.custom_roles}
    for role_id, live_role in sorted(live_custom.items()):
        if role_id in desired_role_ids or not hsm.prune:
            continue
        changes.append(
            Change(
                id=f"data:{hsm.name}:role_definition:{role_id}",
                action=Action.DELETE,
                kind=Kind.ROLE_DEFINITION,
                plane=Plane.DATA,
                target=hsm.name,
                scope="/",
                name=role_id,
                role=live_role.role_name or role_id,
                role_id=role_id,
                reason="custom role not declared in the manifest; HSM has prune: true",
            )
        )


def _plan_role_definition(
    hsm: str,
    role: RoleDefinition,
    live_role: RoleDefinition | None,
    live_custom: dict[str, RoleDefinition],
    changes: list[Change],
    warnings: list[str],
) -> None:
    base = Change(
        id=f"data:{hsm}:role_definition:{role.name}",
        action=Action.CREATE,
        kind=Kind.ROLE_DEFINITION,
        plane=Plane.DATA,
        target=hsm,
        scope="/",
        name=role.name,
        role=role.role_name,
        role_id=role.name,
        reason="custom role declared in the manifest",
        definition=role,
        added_data_actions=granted_data_actions(role),
    )
    if live_role is None:
        same_name = [r for r in live_custom.values() if r.role_name.lower() == role.role_name.lower()]
        if same_name:
            warnings.append(
                f"{hsm}: a custom role named '{role.role_name}' already exists as {same_name[0].name}; "
                f"set `id: {same_name[0].name}` on it in the manifest to adopt it instead of creating another"
            )
        changes.append(base)
        return
    diff = diff_role_definition(live_role, role)
    if diff is None:
        return
    fields, added, removed = diff
    changes.append(
        replace(
            base,
            action=Action.UPDATE,
            reason="custom role differs from the manifest: " + ", ".join(f.path for f in fields),
            field_changes=fields,
            added_data_actions=added,
            removed_data_actions=removed,
        )
    )


def _create_assignment(a: DesiredAssignment) -> Change:
    return Change(
        id=_change_id(a.plane, a.target, Kind.ROLE_ASSIGNMENT, a.key),
        action=Action.CREATE,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=a.plane,
        target=a.target,
        scope=a.scope,
        name=deterministic_name(*a.key),
        role=a.role,
        role_id=a.role_id,
        principal=a.principal.key,
        principal_id=a.principal.id,
        principal_type=a.principal.type,
        reason="declared by " + ", ".join(a.sources),
    )


def _undeclared(
    plane: Plane,
    target: str,
    key: AssignmentKey,
    live: DataRoleAssignment | ArmRoleAssignment,
    role_name: str,
    principal: PrincipalInfo | None,
    principal_type: str | None,
    prune: bool,
    reason: str,
    changes: list[Change],
    unmanaged: list[UnmanagedItem],
) -> None:
    """A live assignment the manifest does not declare: deleted when pruning, else reported."""
    if prune:
        changes.append(
            Change(
                id=_change_id(plane, target, Kind.ROLE_ASSIGNMENT, key),
                action=Action.DELETE,
                kind=Kind.ROLE_ASSIGNMENT,
                plane=plane,
                target=target,
                scope=live.scope,
                name=live.name,
                role=role_name,
                role_id=live.role_definition_id,
                principal=principal.key if principal else None,
                principal_id=live.principal_id,
                principal_type=principal_type,
                reason=reason,
            )
        )
        return
    unmanaged.append(
        UnmanagedItem(
            plane=plane,
            target=target,
            scope=live.scope,
            name=live.name,
            role=role_name,
            role_id=live.role_definition_id,
            principal_id=live.principal_id,
            principal=principal.key if principal else None,
            reason=reason,
        )
    )


def _change_id(plane: Plane, target: str, kind: Kind, key: AssignmentKey) -> str:
    return f"{plane.value}:{target}:{kind.value}:{key[2]}:{key[3]}:{key[4]}"


def _plan_arm(
    desired: DesiredState, live: LiveState, changes: list[Change], unmanaged: list[UnmanagedItem]
) -> None:
    roles = management_role_map((*live.arm.role_definitions, *desired.arm_roles))
    names = {guid: r.role_name for guid, r in roles.items()}
    wanted = {a.key: a for a in desired.assignments if a.plane is Plane.MANAGEMENT}
    scopes = {assignment_key(Plane.MANAGEMENT, "arm", s, "", "")[2] for s in desired.arm_scopes}
    live_by_key: dict[AssignmentKey, list[ArmRoleAssignment]] = {}
    for la in live.arm.role_assignments:
        key = assignment_key(Plane.MANAGEMENT, "arm", la.scope, la.role_definition_id, la.principal_id)
        # Only what hsmsync is responsible for: declared principals at declared scopes.
        if key[2] in scopes and la.principal_id in desired.principals:
            live_by_key.setdefault(key, []).append(la)
    for key, a in wanted.items():
        if key not in live_by_key:
            changes.append(_create_assignment(a))
    for key, items in live_by_key.items():
        if key in wanted:
            continue
        for la in items:
            principal = desired.principals[la.principal_id]
            role = names.get(la.role_definition_id, la.role_definition_id)
            prune = desired.management_prune
            reason = f"not declared in the manifest; management.prune: {str(prune).lower()}"
            _undeclared(
                Plane.MANAGEMENT,
                "arm",
                key,
                la,
                role,
                principal,
                la.principal_type,
                prune,
                reason,
                changes,
                unmanaged,
            )


__all__ = ["FieldChange", "plan_changes"]
