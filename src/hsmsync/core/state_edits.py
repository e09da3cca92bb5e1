"""Applying one change to a LiveState value: the semantics the fake backend (and tests) share.

Idempotent like the services: creating what exists, or deleting what is gone, is ALREADY_DONE.
"""

from __future__ import annotations

from collections import Counter

from hsmsync.core.desired import AssignmentKey, assignment_key
from hsmsync.core.errors import BackendError
from hsmsync.core.kinds import kind_of
from hsmsync.core.plan import Change, Plan, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import AccessPolicy, ArmRoleAssignment, ArmRoleDefinition, HsmState, LiveState
from hsmsync.core.target import ARM


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


class HsmEdits:
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
        self.data_settings = {d.name: d for d in hsm.listed_data_settings}

    def build(self) -> HsmState:
        data_settings = tuple(self.data_settings.values())
        if data_settings == self.hsm.listed_data_settings:
            data_settings_or_none = self.hsm.data_settings  # a file that left them out still does
        else:
            data_settings_or_none = data_settings
        return self.hsm.model_copy(
            update={
                "role_assignments": tuple(self.assignments.values()),
                "role_definitions": tuple(self.definitions.values()),
                "settings": self.settings,
                "diagnostic_settings": tuple(self.diagnostics.values()),
                "data_settings": data_settings_or_none,
            }
        )


class ArmAssignmentEdits:
    """Azure RBAC assignments, indexed by name and by natural key."""

    def __init__(self, assignments: tuple[ArmRoleAssignment, ...]) -> None:
        self.by_name = {a.name: a for a in assignments}
        self.by_key = Counter(self.key(a) for a in assignments)

    @staticmethod
    def key(a: ArmRoleAssignment) -> AssignmentKey:
        return assignment_key(Plane.MANAGEMENT, ARM.key, a.scope, a.role_definition_id, a.principal_id)


class StateEditor:
    """A LiveState opened for editing: changes apply to indexed mutable copies of the touched
    collections (each kind's module in core/kinds says how), and `state()` builds the frozen
    result once."""

    def __init__(self, state: LiveState, *, new_hsms: bool = False) -> None:
        self._base = state
        self._new_hsms = new_hsms
        self._hsms: dict[str, HsmEdits] = {}
        self._policies: dict[str, dict[str, AccessPolicy]] = {}
        self._arm_assignments: ArmAssignmentEdits | None = None
        self._arm_roles: dict[str, ArmRoleDefinition] | None = None
        self.changed = False

    def apply(self, change: Change) -> Outcome:
        outcome = kind_of(change).edit(self, change)
        self.changed = self.changed or outcome is Outcome.DONE
        return outcome

    def hsm(self, name: str) -> HsmEdits:
        edits = self._hsms.get(name)
        if edits is None:
            hsm = self._base.hsms.get(name)
            if hsm is None:
                if not self._new_hsms:
                    raise BackendError(f"{name}: no such HSM in the state")
                hsm = HsmState(url="")  # an HSM live state has not seen yet starts empty
            edits = self._hsms[name] = HsmEdits(name, hsm)
        return edits

    def arm_assignments(self) -> ArmAssignmentEdits:
        if self._arm_assignments is None:
            self._arm_assignments = ArmAssignmentEdits(self._base.arm.role_assignments)
        return self._arm_assignments

    def arm_roles(self) -> dict[str, ArmRoleDefinition]:
        if self._arm_roles is None:
            self._arm_roles = {r.name: r for r in self._base.arm.role_definitions}
        return self._arm_roles

    def vault_policies(self, name: str) -> dict[str, AccessPolicy]:
        policies = self._policies.get(name)
        if policies is None:
            vault = self._base.vaults.get(name)
            if vault is None:
                raise BackendError(f"vault {name}: no such vault in the state")
            policies = self._policies[name] = {p.entry_key: p for p in vault.access_policies}
        return policies

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
            arm = arm.model_copy(update={"role_assignments": tuple(self._arm_assignments.by_name.values())})
        if self._arm_roles is not None:
            arm = arm.model_copy(update={"role_definitions": tuple(self._arm_roles.values())})
        return base.model_copy(update={"hsms": hsms, "vaults": vaults, "arm": arm})
