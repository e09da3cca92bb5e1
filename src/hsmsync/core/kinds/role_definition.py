"""Role definitions: Managed HSM custom roles (data plane) and custom Azure roles (management plane)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hsmsync.core.kinds._edits import no_payload, remove, replace_last
from hsmsync.core.plan import Action, Change, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import ArmRoleDefinition
from hsmsync.core.target import TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


def target_kind(plane: Plane, text: str) -> TargetKind:
    return TargetKind.ARM if plane is Plane.MANAGEMENT else TargetKind.HSM


def read_payload(plane: Plane, data: Any) -> ArmRoleDefinition | None:
    if plane is Plane.DATA or data is None:
        no_payload("role_definition", data)  # a data-plane role travels as `definition`
        return None
    return ArmRoleDefinition.model_validate(data)


def section(change: Change) -> tuple[int, str]:
    if change.plane is Plane.DATA:
        return (0, f"HSM {change.target} (data plane)")
    return (3, "Azure RBAC (management plane)")


def edit(editor: StateEditor, change: Change) -> Outcome:
    if change.plane is Plane.MANAGEMENT:
        roles = editor.arm_roles()
        if change.action is Action.DELETE:
            return remove(roles, change.name)
        assert isinstance(change.payload, ArmRoleDefinition)
        return replace_last(roles, change.name, change.payload)
    definitions = editor.hsm(change.target.name).definitions
    if change.action is Action.DELETE:
        return remove(definitions, change.name)
    assert change.definition is not None
    return replace_last(definitions, change.name, change.definition)
