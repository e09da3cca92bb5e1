"""Role definitions: Managed HSM custom roles (data plane) and custom Azure roles (management plane)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hsmsync.core.kinds._edits import (
    field_changes,
    only,
    rbac_section,
    rbac_target_kind,
    remove,
    replace_last,
)
from hsmsync.core.plan import Action, Change, Plane, RoleDefinitionSubject
from hsmsync.core.results import Outcome
from hsmsync.core.state import ArmRoleDefinition, RoleDefinition
from hsmsync.core.target import Target

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


target_kind = rbac_target_kind


def read_subject(plane: Plane, target: Target, d: Mapping[str, Any]) -> RoleDefinitionSubject:
    if plane is Plane.DATA:  # an HSM's custom role travels as `definition`
        only(
            d, "role_definition", "definition", "field_changes", "added_data_actions", "removed_data_actions"
        )
    else:
        only(d, "role_definition", "payload", "field_changes")
    return RoleDefinitionSubject(
        plane,
        d["scope"],
        d["role_id"],
        d["role"],
        definition=RoleDefinition.model_validate(d["definition"]) if d.get("definition") else None,
        payload=ArmRoleDefinition.model_validate(d["payload"]) if d.get("payload") is not None else None,
        field_changes=field_changes(d),
        added_data_actions=tuple(d.get("added_data_actions", [])),
        removed_data_actions=tuple(d.get("removed_data_actions", [])),
    )


section = rbac_section


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
