"""Applying one change to a LiveState value: the semantics the fake backend (and tests) share.

Idempotent like the services: creating what exists, or deleting what is gone, is ALREADY_DONE.
"""

from __future__ import annotations

from enum import StrEnum

from hsmsync.core.desired import assignment_key
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleAssignment,
    ArmRoleDefinition,
    ArmState,
    DataRoleAssignment,
    DiagnosticSetting,
    HsmSettingsPatch,
    HsmState,
    LiveState,
)


class EditOutcome(StrEnum):
    DONE = "done"
    ALREADY_DONE = "already_done"


def apply_to_state(state: LiveState, change: Change) -> tuple[LiveState, EditOutcome]:
    """Returns the new state (the same object when nothing changed) and the outcome."""
    if change.kind is Kind.ACCESS_POLICY:
        return _apply_access_policy(state, change)
    if change.kind in (Kind.SETTING, Kind.DIAGNOSTIC_SETTING):
        return _apply_hsm_resource(state, change)
    if change.plane is Plane.MANAGEMENT and change.kind is Kind.ROLE_DEFINITION:
        arm, outcome = _apply_arm_role(state.arm, change)
        return (state if arm is state.arm else state.model_copy(update={"arm": arm})), outcome
    if change.plane is Plane.MANAGEMENT:
        arm, outcome = _apply_arm(state.arm, change)
        return (state if arm is state.arm else state.model_copy(update={"arm": arm})), outcome
    hsm = state.hsms.get(change.target)
    if hsm is None:
        raise BackendError(f"{change.target}: no such HSM in the state")
    if change.kind is Kind.ROLE_ASSIGNMENT:
        new_hsm, outcome = _apply_data_assignment(hsm, change)
    else:
        new_hsm, outcome = _apply_role_definition(hsm, change)
    if new_hsm is hsm:
        return state, outcome
    return state.model_copy(update={"hsms": {**state.hsms, change.target: new_hsm}}), outcome


def _apply_data_assignment(hsm: HsmState, change: Change) -> tuple[HsmState, EditOutcome]:
    assert change.principal_id is not None
    key = assignment_key(Plane.DATA, change.target, change.scope, change.role_id, change.principal_id)
    if change.action is Action.CREATE:
        for a in hsm.role_assignments:
            if (
                assignment_key(Plane.DATA, change.target, a.scope, a.role_definition_id, a.principal_id)
                == key
            ):
                return hsm, EditOutcome.ALREADY_DONE
            if a.name == change.name:
                raise BackendError(
                    f"{change.target}: role assignment {change.name} already exists with other content"
                )
        new = DataRoleAssignment(
            name=change.name,
            scope=change.scope,
            role_definition_id=change.role_id,
            principal_id=change.principal_id,
        )
        return hsm.model_copy(update={"role_assignments": (*hsm.role_assignments, new)}), EditOutcome.DONE
    kept = tuple(a for a in hsm.role_assignments if a.name != change.name)
    if len(kept) == len(hsm.role_assignments):
        return hsm, EditOutcome.ALREADY_DONE
    return hsm.model_copy(update={"role_assignments": kept}), EditOutcome.DONE


def _apply_role_definition(hsm: HsmState, change: Change) -> tuple[HsmState, EditOutcome]:
    others = tuple(r for r in hsm.role_definitions if r.name != change.name)
    existing = next((r for r in hsm.role_definitions if r.name == change.name), None)
    if change.action is Action.DELETE:
        if existing is None:
            return hsm, EditOutcome.ALREADY_DONE
        return hsm.model_copy(update={"role_definitions": others}), EditOutcome.DONE
    assert change.definition is not None
    if existing == change.definition:
        return hsm, EditOutcome.ALREADY_DONE
    return hsm.model_copy(update={"role_definitions": (*others, change.definition)}), EditOutcome.DONE


def _apply_arm(arm: ArmState, change: Change) -> tuple[ArmState, EditOutcome]:
    assert change.principal_id is not None
    key = assignment_key(Plane.MANAGEMENT, "arm", change.scope, change.role_id, change.principal_id)
    if change.action is Action.CREATE:
        for a in arm.role_assignments:
            if assignment_key(Plane.MANAGEMENT, "arm", a.scope, a.role_definition_id, a.principal_id) == key:
                return arm, EditOutcome.ALREADY_DONE
        new = ArmRoleAssignment(
            name=change.name,
            scope=change.scope,
            role_definition_id=change.role_id,
            principal_id=change.principal_id,
            principal_type=change.principal_type or "User",
        )
        return arm.model_copy(update={"role_assignments": (*arm.role_assignments, new)}), EditOutcome.DONE
    kept = tuple(a for a in arm.role_assignments if a.name != change.name)
    if len(kept) == len(arm.role_assignments):
        return arm, EditOutcome.ALREADY_DONE
    return arm.model_copy(update={"role_assignments": kept}), EditOutcome.DONE


def _apply_access_policy(state: LiveState, change: Change) -> tuple[LiveState, EditOutcome]:
    name = change.target.removeprefix("vault:")
    vault = state.vaults.get(name)
    if vault is None:
        raise BackendError(f"vault {name}: no such vault in the state")
    others = tuple(p for p in vault.access_policies if p.object_id != change.name)
    existing = next((p for p in vault.access_policies if p.object_id == change.name), None)
    if change.action is Action.DELETE:
        if existing is None:
            return state, EditOutcome.ALREADY_DONE
        policies = others
    else:
        assert isinstance(change.payload, AccessPolicy)
        if existing == change.payload:
            return state, EditOutcome.ALREADY_DONE
        policies = (*others, change.payload)
    new_vault = vault.model_copy(update={"access_policies": policies})
    return state.model_copy(update={"vaults": {**state.vaults, name: new_vault}}), EditOutcome.DONE


def _apply_hsm_resource(state: LiveState, change: Change) -> tuple[LiveState, EditOutcome]:
    hsm = state.hsms.get(change.target)
    if hsm is None:
        raise BackendError(f"{change.target}: no such HSM in the state")
    if change.kind is Kind.SETTING:
        assert isinstance(change.payload, HsmSettingsPatch)
        patch = change.payload.model_dump(exclude_none=True)
        settings = hsm.settings.model_copy(update={k: getattr(change.payload, k) for k in patch})
        if settings == hsm.settings:
            return state, EditOutcome.ALREADY_DONE
        new_hsm = hsm.model_copy(update={"settings": settings})
    else:
        assert isinstance(change.payload, DiagnosticSetting)
        if change.payload in hsm.diagnostic_settings:
            return state, EditOutcome.ALREADY_DONE
        others = tuple(d for d in hsm.diagnostic_settings if d.name != change.payload.name)
        new_hsm = hsm.model_copy(update={"diagnostic_settings": (*others, change.payload)})
    return state.model_copy(update={"hsms": {**state.hsms, change.target: new_hsm}}), EditOutcome.DONE


def _apply_arm_role(arm: ArmState, change: Change) -> tuple[ArmState, EditOutcome]:
    others = tuple(r for r in arm.role_definitions if r.name != change.name)
    existing = next((r for r in arm.role_definitions if r.name == change.name), None)
    if change.action is Action.DELETE:
        if existing is None:
            return arm, EditOutcome.ALREADY_DONE
        return arm.model_copy(update={"role_definitions": others}), EditOutcome.DONE
    assert isinstance(change.payload, ArmRoleDefinition)
    if existing == change.payload:
        return arm, EditOutcome.ALREADY_DONE
    return arm.model_copy(update={"role_definitions": (*others, change.payload)}), EditOutcome.DONE
