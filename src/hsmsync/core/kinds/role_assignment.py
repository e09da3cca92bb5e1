"""Role assignments: Managed HSM local RBAC (data plane) and Azure RBAC (management plane)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hsmsync.core.desired import assignment_key
from hsmsync.core.errors import BackendError
from hsmsync.core.kinds._edits import field_changes, only, rbac_section, rbac_target_kind
from hsmsync.core.plan import Action, Change, Plane, RoleAssignmentSubject
from hsmsync.core.results import Outcome
from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment
from hsmsync.core.target import Target, TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


def target_kind(plane: Plane, text: str) -> TargetKind:
    """An HSM's on the data plane; on the management plane Azure RBAC's, or a vault's (an Azure
    role assignment at or below a declared vault, see `desired.management_target`)."""
    if plane is Plane.MANAGEMENT and text.startswith("vault:"):
        return TargetKind.VAULT
    return rbac_target_kind(plane, text)


def read_subject(plane: Plane, target: Target, d: Mapping[str, Any]) -> RoleAssignmentSubject:
    only(d, "role_assignment", "field_changes")
    if not isinstance(d.get("principal_id"), str):
        raise ValueError("a role_assignment change needs its principal_id")
    if plane is Plane.DATA and ("condition" in d or "field_changes" in d):
        raise ValueError("a Managed HSM role assignment has no condition")
    return RoleAssignmentSubject(
        plane,
        d["scope"],
        d["name"],
        d["role"],
        d["role_id"],
        d.get("principal"),
        d["principal_id"],
        d.get("principal_type"),
        d.get("condition"),
        d.get("condition_version"),
        field_changes(d),
    )


section = rbac_section


def edit(editor: StateEditor, change: Change) -> Outcome:
    assert change.principal_id is not None
    if change.plane is Plane.MANAGEMENT:
        return _edit_arm(editor, change, change.principal_id)
    hsm = editor.hsm(change.target.name)
    key = assignment_key(Plane.DATA, change.target.name, change.scope, change.role_id, change.principal_id)
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
        assignment_key(Plane.DATA, change.target.name, gone.scope, gone.role_definition_id, gone.principal_id)
    ] -= 1
    return Outcome.DONE


def _edit_arm(editor: StateEditor, change: Change, principal_id: str) -> Outcome:
    arm = editor.arm_assignments()
    subject = change.subject
    assert isinstance(subject, RoleAssignmentSubject)
    new = ArmRoleAssignment(
        name=change.name,
        scope=change.scope,
        role_definition_id=change.role_id,
        principal_id=principal_id,
        principal_type=change.principal_type or "User",
        condition=subject.condition,
        condition_version=subject.condition_version,
    )
    if change.action is Action.UPDATE:  # the condition, on the same assignment (Azure: PUT by name)
        current = arm.by_name.get(change.name)
        if current is None:
            raise BackendError(f"{change.target}: role assignment {change.name} does not exist")
        wanted = {"condition": new.condition, "condition_version": new.condition_version}
        if (current.condition, current.condition_version) == (new.condition, new.condition_version):
            return Outcome.ALREADY_DONE
        arm.by_name[change.name] = current.model_copy(update=wanted)
        return Outcome.DONE
    if change.action is Action.CREATE:
        if arm.by_key[arm.key(new)] > 0:
            return Outcome.ALREADY_DONE
        arm.by_name[new.name] = new
        arm.by_key[arm.key(new)] += 1
        return Outcome.DONE
    gone = arm.by_name.pop(change.name, None)
    if gone is None:
        return Outcome.ALREADY_DONE
    arm.by_key[arm.key(gone)] -= 1
    return Outcome.DONE
