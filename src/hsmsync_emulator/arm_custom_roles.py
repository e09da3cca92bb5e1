"""Custom Azure role definitions in the emulator's ARM (PUT/DELETE; `ArmState.role_definitions`)."""

from __future__ import annotations

import re
from typing import Any

from hsmsync.core.catalog import definition_to_rest, management_roles, permission_from_rest
from hsmsync.core.ids import is_guid
from hsmsync.core.state import ArmRoleDefinition, LiveState, RoleDefinition
from hsmsync_emulator.arm_common import (
    ARM_TIMESTAMP,
    ArmResourceBase,
    at_or_above,
    json_body,
    properties_of,
    str_list,
)
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import Operation
from hsmsync_emulator.server import Request, Response

SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_MG = re.compile(r"^/providers/Microsoft\.Management/managementGroups/[^/]+", re.IGNORECASE)


def definition_prefix(scope: str) -> str:
    """`/subscriptions/<s>/providers/Microsoft.Authorization/roleDefinitions/` for a scope."""
    m = SUBSCRIPTION.match(scope)
    sub = f"/subscriptions/{m.group(1)}" if m else ""
    return f"{sub}/providers/Microsoft.Authorization/roleDefinitions/"


def arm_definition_json(
    role: RoleDefinition | ArmRoleDefinition, scope: str, role_type: str
) -> dict[str, Any]:
    """A role definition as ARM serves it: the core's REST shape plus ARM's audit fields."""
    return definition_to_rest(
        role,
        id_prefix=definition_prefix(scope),
        role_type=role_type,
        createdOn=ARM_TIMESTAMP,
        updatedOn=ARM_TIMESTAMP,
        createdBy=None,
        updatedBy=None,
    )


def custom_role_json(role: ArmRoleDefinition, scope: str) -> dict[str, Any]:
    return arm_definition_json(role, scope, "CustomRole")


class CustomRoleRoutes(ArmResourceBase):
    """Custom roles: lookups for the RBAC routes, and PUT/DELETE of a definition."""

    def custom_role(self, name: str) -> ArmRoleDefinition | None:
        n = name.lower()
        return next((r for r in self._store.read().arm.role_definitions if r.name == n), None)

    def custom_roles_at(self, scope: str, *, below: bool = False) -> list[ArmRoleDefinition]:
        """Custom roles assignable at `scope` (an assignable scope at or above it), and with `below`
        also those assignable somewhere under it."""
        out = []
        for role in self._store.read().arm.role_definitions:
            if any(
                at_or_above(s, scope) or (below and at_or_above(scope, s)) for s in role.assignable_scopes
            ):
                out.append(role)
        return out

    def write_definition(self, request: Request, scope: str, name: str) -> Operation:
        if not name:
            raise ApiError(405, "MethodNotAllowed", f"{request.method} needs a role definition id")
        if request.method == "PUT":
            body = json_body(request)
            return Operation(lambda: self._put_definition(scope, name, body))
        return Operation(lambda: self._delete_definition(scope, name))

    def _put_definition(self, scope: str, name: str, body: dict[str, Any]) -> Response:
        if not is_guid(name):
            raise ApiError(
                400,
                "InvalidRoleDefinitionId",
                f"The role definition ID '{name}' is not valid; it must be a GUID.",
            )
        if any(r.name == name.lower() for r in management_roles()):
            raise ApiError(
                403, "RoleDefinitionUpdateNotPermitted", "Built-in role definitions cannot be changed."
            )
        if not (SUBSCRIPTION.match(scope) or _MG.match(scope)):
            raise ApiError(
                400,
                "InvalidScope",
                f"Role definitions are created at a subscription or management group; not '{scope}'.",
            )
        role = _role_from_body(name, properties_of(body))
        outside = [s for s in role.assignable_scopes if not at_or_above(scope, s)]
        if outside:
            raise ApiError(
                400,
                "InvalidAssignableScope",
                f"Assignable scope '{outside[0]}' is not at or below the role definition's scope '{scope}'.",
            )

        def change(state: LiveState) -> tuple[LiveState, ArmRoleDefinition]:
            roles = state.arm.role_definitions
            for other in roles:
                if other.name != role.name and other.role_name.lower() == role.role_name.lower():
                    raise ApiError(
                        409,
                        "RoleDefinitionWithSameNameExists",
                        f"A custom role named '{role.role_name}' already exists in this directory.",
                    )
            if role in roles:
                return state, role
            kept = tuple(r for r in roles if r.name != role.name)
            arm = state.arm.model_copy(update={"role_definitions": (*kept, role)})
            return state.model_copy(update={"arm": arm}), role

        return Response(201, custom_role_json(self._update(change), scope))

    def _delete_definition(self, scope: str, name: str) -> Response:
        def change(state: LiveState) -> tuple[LiveState, ArmRoleDefinition | None]:
            found = next((r for r in state.arm.role_definitions if r.name == name.lower()), None)
            if found is None:
                return state, None
            if any(a.role_definition_id == found.name for a in state.arm.role_assignments):
                raise ApiError(
                    409,
                    "RoleDefinitionHasAssignments",
                    "There are existing role assignments referencing this role definition.",
                )
            kept = tuple(r for r in state.arm.role_definitions if r is not found)
            arm = state.arm.model_copy(update={"role_definitions": kept})
            return state.model_copy(update={"arm": arm}), found

        deleted = self._update(change)
        return Response(204) if deleted is None else Response(200, custom_role_json(deleted, scope))


def _role_from_body(name: str, props: dict[str, Any]) -> ArmRoleDefinition:
    role_name = props.get("roleName")
    if not isinstance(role_name, str) or not role_name.strip():
        raise ApiError(400, "RoleDefinitionNameNullOrEmpty", "The role definition must have a name.")
    scopes = str_list(props.get("assignableScopes"), "assignableScopes")
    if not scopes:
        raise ApiError(
            400, "RoleDefinitionAssignableScopesNullOrEmpty", "The role definition needs assignable scopes."
        )
    blocks = props.get("permissions") or []
    # Azure RBAC accepts exactly one permissions entry in a custom role (built-in roles may hold more).
    if not isinstance(blocks, list) or len(blocks) != 1 or not isinstance(blocks[0], dict):
        raise ApiError(400, "InvalidPermissions", "A custom role needs exactly one permissions block.")
    block = blocks[0]
    for field in ("actions", "notActions", "dataActions", "notDataActions"):
        str_list(block.get(field), field)
    return ArmRoleDefinition(
        name=name,
        role_name=role_name,
        description=props.get("description") or "",
        permissions=(permission_from_rest(block),),
        assignable_scopes=tuple(scopes),
    )
