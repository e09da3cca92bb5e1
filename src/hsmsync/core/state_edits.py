"""Applying one change to a LiveState value: the semantics the fake backend (and tests) share.

Idempotent like the services: creating what exists, or deleting what is gone, is ALREADY_DONE.
"""

from __future__ import annotations

from collections import Counter
from typing import TypeVar

from hsmsync.core.desired import AssignmentKey, assignment_key
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import Action, Change, Kind, Plan, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleAssignment,
    ArmRoleDefinition,
    DataRoleAssignment,
    DiagnosticSetting,
    HsmSettingsPatch,
    HsmState,
    LiveState,
)
from hsmsync.core.target import ARM
from hsmsync.core.vault_permissions import switches_permission_model

T = TypeVar("T")


def apply_to_state(state: LiveState, change: Change) -> tuple[LiveState, Outcome]:
    """Returns the new state (the same object when nothing changed) and the outcome."""
    editor = StateEditor(state)
    outcome = editor.apply(change)
    return (editor.state() if editor.changed else state), outcome


def state_after_plan(live: LiveState, plan: Plan) -> LiveState:
    """The live state a plan leaves behind, in one pass (linear in the state plus the changes), by
    the edit semantics the fake backend uses: the one simulator the lockout guard, the access
    delta and lint share. An HSM live state has not seen yet starts empty (the plan creates
    everything on it)."""
    editor = StateEditor(live, new_hsms=True)
    for change in plan.changes:
        editor.apply(change)
    return editor.state() if editor.changed else live


class _HsmEdits:
    """One HSM's editable collections, indexed by name and by natural key."""

    def __init__(self, name: str, hsm: HsmState) -> None:
        self.hsm = hsm
        self.assignments = {a.name: a for a in hsm.role_assignments}
        self.by_key = Counter(
            assignment_key(Plane.DATA, name, a.scope, a.role_definition_id, a.principal_id)
            for a in hsm.role_assignments
        )
        self.definitions = {r.name: r for r in hsm.role_definitions}
        self.settings = hsm.settings
        self.diagnostics = {d.name: d for d in hsm.diagnostic_settings}

    def build(self) -> HsmState:
        return self.hsm.model_copy(
            update={
                "role_assignments": tuple(self.assignments.values()),
                "role_definitions": tuple(self.definitions.values()),
                "settings": self.settings,
                "diagnostic_settings": tuple(self.diagnostics.values()),
            }
        )


def _replace_last(items: dict[str, T], name: str, item: T) -> Outcome:
    """Create or update `name`: an updated item moves to the end, as a service listing shows it."""
    if items.get(name) == item:
        return Outcome.ALREADY_DONE
    items.pop(name, None)
    items[name] = item
    return Outcome.DONE


def _remove(items: dict[str, T], name: str) -> Outcome:
    return Outcome.DONE if items.pop(name, None) is not None else Outcome.ALREADY_DONE


class StateEditor:
    """A LiveState opened for editing: changes apply to indexed mutable copies of the touched
    collections, and `state()` builds the frozen result once."""

    def __init__(self, state: LiveState, *, new_hsms: bool = False) -> None:
        self._base = state
        self._new_hsms = new_hsms
        self._hsms: dict[str, _HsmEdits] = {}
        self._policies: dict[str, dict[str, AccessPolicy]] = {}
        self._arm_assignments: dict[str, ArmRoleAssignment] | None = None
        self._arm_keys: Counter[AssignmentKey] = Counter()
        self._arm_roles: dict[str, ArmRoleDefinition] | None = None
        self.changed = False

    def apply(self, change: Change) -> Outcome:
        outcome = self._apply(change)
        self.changed = self.changed or outcome is Outcome.DONE
        return outcome

    def _apply(self, change: Change) -> Outcome:
        if change.kind is Kind.ACCESS_POLICY:
            return self._access_policy(change)
        if switches_permission_model(change):
            return Outcome.ALREADY_DONE  # reported, never made: the vault keeps its model
        if change.plane is Plane.MANAGEMENT and change.kind is Kind.ROLE_DEFINITION:
            return self._arm_role(change)
        if change.plane is Plane.MANAGEMENT and change.kind is Kind.ROLE_ASSIGNMENT:
            return self._arm_assignment(change)
        hsm = self._hsm(change.target.name)
        if change.kind is Kind.SETTING:
            assert isinstance(change.payload, HsmSettingsPatch)
            settings = change.payload.applied_to(hsm.settings)  # unmanaged fields keep their values
            if settings == hsm.settings:
                return Outcome.ALREADY_DONE
            hsm.settings = settings
            return Outcome.DONE
        if change.kind is Kind.DIAGNOSTIC_SETTING:
            assert isinstance(change.payload, DiagnosticSetting)
            return _replace_last(hsm.diagnostics, change.payload.name, change.payload)
        if change.kind is Kind.ROLE_ASSIGNMENT:
            return self._data_assignment(hsm, change)
        if change.action is Action.DELETE:
            return _remove(hsm.definitions, change.name)
        assert change.definition is not None
        return _replace_last(hsm.definitions, change.name, change.definition)

    def _hsm(self, name: str) -> _HsmEdits:
        edits = self._hsms.get(name)
        if edits is None:
            hsm = self._base.hsms.get(name)
            if hsm is None:
                if not self._new_hsms:
                    raise BackendError(f"{name}: no such HSM in the state")
                hsm = HsmState(url="")  # an HSM live state has not seen yet starts empty
            edits = self._hsms[name] = _HsmEdits(name, hsm)
        return edits

    @staticmethod
    def _data_assignment(hsm: _HsmEdits, change: Change) -> Outcome:
        assert change.principal_id is not None
        key = assignment_key(
            Plane.DATA, change.target.name, change.scope, change.role_id, change.principal_id
        )
        if change.action is Action.CREATE:
            if hsm.by_key[key] > 0:
                return Outcome.ALREADY_DONE
            if change.name in hsm.assignments:
                raise BackendError(
                    f"{change.target}: role assignment {change.name} already exists with other content"
                )
            hsm.assignments[change.name] = DataRoleAssignment(
                name=change.name,
                scope=change.scope,
                role_definition_id=change.role_id,
                principal_id=change.principal_id,
            )
            hsm.by_key[key] += 1
            return Outcome.DONE
        gone = hsm.assignments.pop(change.name, None)
        if gone is None:
            return Outcome.ALREADY_DONE
        hsm.by_key[
            assignment_key(
                Plane.DATA, change.target.name, gone.scope, gone.role_definition_id, gone.principal_id
            )
        ] -= 1
        return Outcome.DONE

    def _arm_assignment(self, change: Change) -> Outcome:
        assert change.principal_id is not None
        if self._arm_assignments is None:
            self._arm_assignments = {a.name: a for a in self._base.arm.role_assignments}
            self._arm_keys = Counter(_arm_key(a) for a in self._base.arm.role_assignments)
        if change.action is Action.CREATE:
            new = ArmRoleAssignment(
                name=change.name,
                scope=change.scope,
                role_definition_id=change.role_id,
                principal_id=change.principal_id,
                principal_type=change.principal_type or "User",
            )
            if self._arm_keys[_arm_key(new)] > 0:
                return Outcome.ALREADY_DONE
            self._arm_assignments[new.name] = new
            self._arm_keys[_arm_key(new)] += 1
            return Outcome.DONE
        gone = self._arm_assignments.pop(change.name, None)
        if gone is None:
            return Outcome.ALREADY_DONE
        self._arm_keys[_arm_key(gone)] -= 1
        return Outcome.DONE

    def _arm_role(self, change: Change) -> Outcome:
        if self._arm_roles is None:
            self._arm_roles = {r.name: r for r in self._base.arm.role_definitions}
        if change.action is Action.DELETE:
            return _remove(self._arm_roles, change.name)
        assert isinstance(change.payload, ArmRoleDefinition)
        return _replace_last(self._arm_roles, change.name, change.payload)

    def _access_policy(self, change: Change) -> Outcome:
        name = change.target.name
        policies = self._policies.get(name)
        if policies is None:
            vault = self._base.vaults.get(name)
            if vault is None:
                raise BackendError(f"vault {name}: no such vault in the state")
            policies = self._policies[name] = {p.object_id: p for p in vault.access_policies}
        if change.action is Action.DELETE:
            return _remove(policies, change.name)
        assert isinstance(change.payload, AccessPolicy)
        return _replace_last(policies, change.name, change.payload)

    def state(self) -> LiveState:
        base = self._base
        hsms = {**base.hsms, **{name: e.build() for name, e in self._hsms.items()}}
        vaults = {
            **base.vaults,
            **{
                name: base.vaults[name].model_copy(update={"access_policies": tuple(p.values())})
                for name, p in self._policies.items()
            },
        }
        arm = base.arm
        if self._arm_assignments is not None:
            arm = arm.model_copy(update={"role_assignments": tuple(self._arm_assignments.values())})
        if self._arm_roles is not None:
            arm = arm.model_copy(update={"role_definitions": tuple(self._arm_roles.values())})
        return base.model_copy(update={"hsms": hsms, "vaults": vaults, "arm": arm})


def _arm_key(a: ArmRoleAssignment) -> AssignmentKey:
    return assignment_key(Plane.MANAGEMENT, ARM.key, a.scope, a.role_definition_id, a.principal_id)
