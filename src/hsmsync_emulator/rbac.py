"""Managed HSM local RBAC as the service applies it: scopes, the role catalog, assignments,
definitions, listing filters, limits and the access check. Pure functions on `HsmState`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from hsmsync.core.capabilities import permits
from hsmsync.core.catalog import builtin_data_roles, definition_to_rest, permission_from_rest
from hsmsync.core.ids import is_guid
from hsmsync.core.limits import CUSTOM_ROLE_LIMIT, HSM_SCOPE_ASSIGNMENT_LIMIT, KEY_SCOPE_ASSIGNMENT_LIMIT
from hsmsync.core.scopes import KEY_NAME
from hsmsync.core.state import DataRoleAssignment, HsmState, Permission, RoleDefinition
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.filters import (
    PRINCIPAL_EQ,
    AssignmentFilter,
    filter_terms,
    parse_assignment_filter,
    role_name_term,
)
from hsmsync_emulator.rbac_index import HSM_WIDE, AssignmentIndex

DEFINITION_ID_PREFIX = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"
ASSIGNMENT_ID_PREFIX = "/providers/Microsoft.Authorization/roleAssignments/"
DATA_ACTION_PREFIX = "Microsoft.KeyVault/managedHsm/"

# The planner orders its changes to stay within these (core/limits.py): one set of numbers.
MAX_CUSTOM_ROLES = CUSTOM_ROLE_LIMIT
MAX_HSM_SCOPE_ASSIGNMENTS = HSM_SCOPE_ASSIGNMENT_LIMIT
MAX_KEY_SCOPE_ASSIGNMENTS = KEY_SCOPE_ASSIGNMENT_LIMIT

BUILTIN_MESSAGE = "Cannot re-use the name/GUID matching that of a built-in role. Please use a unique role ID."


def action(short: str) -> str:
    return DATA_ACTION_PREFIX + short


# ----------------------------------------------------------------------------------------- scopes


def parse_scope(raw: str) -> str:
    """The scope part of a path (`""`, `"//"`, `"/keys"`, `"/keys/k"`) as `/`, `/keys` or `/keys/<k>`."""
    text = unquote(raw)
    parts = [p for p in text.split("/") if p]
    if not parts:
        return "/"
    if parts[0].lower() != "keys" or len(parts) > 2:
        raise ApiError(
            400, "BadParameter", f"Invalid scope '{text}'. Supported scopes: '/', '/keys', '/keys/<key>'"
        )
    if len(parts) == 1:
        return "/keys"
    if not KEY_NAME.match(parts[1]):
        raise ApiError(400, "Invalidkeyidentifier", "Invalid key identifier")
    return f"/keys/{parts[1]}"


def _scope_key(scope: str) -> str:
    return scope.lower()


def covers(assigned: str, requested: str) -> bool:
    """Does an assignment at `assigned` grant at `requested`? `/` covers all, `/keys` all keys."""
    a, r = _scope_key(assigned), _scope_key(requested)
    if a == "/":
        return True
    if a == "/keys":
        return r == "/keys" or r.startswith("/keys/")
    return a == r


def _same_scope(a: str, b: str) -> bool:
    return _scope_key(a) == _scope_key(b)


# ---------------------------------------------------------------------------------------- catalog


def builtin_roles(hsm: HsmState) -> tuple[RoleDefinition, ...]:
    return hsm.builtin_role_definitions if hsm.builtin_role_definitions is not None else builtin_data_roles()


def all_roles(hsm: HsmState) -> list[RoleDefinition]:
    return [*builtin_roles(hsm), *hsm.role_definitions]


def find_role(hsm: HsmState, guid: str) -> RoleDefinition | None:
    g = guid.lower()
    return next((r for r in all_roles(hsm) if r.name == g), None)


def _is_builtin_name(hsm: HsmState, name: str) -> bool:
    return any(r.name == name.lower() for r in builtin_roles(hsm))


# ------------------------------------------------------------------------------------------ shapes


def definition_json(role: RoleDefinition) -> dict[str, Any]:
    return definition_to_rest(role, id_prefix=DEFINITION_ID_PREFIX)


def assignment_json(a: DataRoleAssignment) -> dict[str, Any]:
    return {
        "id": ASSIGNMENT_ID_PREFIX + a.name,
        "name": a.name,
        "properties": {
            "principalId": a.principal_id,
            "roleDefinitionId": DEFINITION_ID_PREFIX + a.role_definition_id,
            "scope": a.scope,
        },
        "type": "Microsoft.Authorization/roleAssignments",
    }


# ------------------------------------------------------------------------------------ assignments


def _assignment_not_found() -> ApiError:
    return ApiError(404, "RoleAssignmentNotFound", "Requested role assignment not found")


def find_assignment(hsm: HsmState, scope: str, name: str) -> DataRoleAssignment | None:
    n = name.lower()
    return next(
        (a for a in hsm.role_assignments if a.name == n and _same_scope(a.scope, scope)),
        None,
    )


def get_assignment(hsm: HsmState, scope: str, name: str) -> DataRoleAssignment:
    found = find_assignment(hsm, scope, name)
    if found is None:
        raise _assignment_not_found()
    return found


def _properties(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ApiError(400, "BadParameter", "The request body must be a JSON object")
    props = body.get("properties")
    if not isinstance(props, Mapping):
        raise ApiError(400, "BadParameter", "The request body must carry 'properties'")
    return props


def put_assignment(hsm: HsmState, scope: str, name: str, body: Any) -> tuple[HsmState, DataRoleAssignment]:
    if not is_guid(name):
        raise ApiError(400, "BadParameter", "Role assignment name must be a GUID")
    props = _properties(body)
    role_id = props.get("roleDefinitionId")
    principal = props.get("principalId")
    if not isinstance(role_id, str) or not role_id:
        raise ApiError(400, "BadParameter", "Role assignment 'roleDefinitionId' is required")
    if not isinstance(principal, str) or not principal:
        raise ApiError(400, "BadParameter", "Role assignment 'principalId' is required")
    if not is_guid(principal):
        raise ApiError(400, "BadParameter", "Role assignment 'principalId' must be a GUID")
    role_guid = role_id.rstrip("/").rsplit("/", 1)[-1]
    if not is_guid(role_guid) or find_role(hsm, role_guid) is None:
        raise ApiError(400, "RoleDefinitionNotFound", f"Role definition '{role_id}' not found")
    if find_assignment(hsm, scope, name) is not None:
        raise ApiError(400, "RoleAssignmentExists", "The role assignment already exists.")
    new = DataRoleAssignment(name=name, scope=scope, role_definition_id=role_guid, principal_id=principal)
    for a in hsm.role_assignments:
        if (
            a.role_definition_id == new.role_definition_id
            and a.principal_id == new.principal_id
            and _same_scope(a.scope, scope)
        ):
            raise ApiError(
                400,
                "MatchingRoleAssignmentExists",
                f"Role assignment '{a.name}' already adds role "
                f"'{DEFINITION_ID_PREFIX}{a.role_definition_id}' to principal '{a.principal_id}' "
                f"in scope '{a.scope}'.",
            )
    if scope in HSM_WIDE:
        count = sum(1 for a in hsm.role_assignments if a.scope in HSM_WIDE)
        if count >= MAX_HSM_SCOPE_ASSIGNMENTS:
            raise ApiError(
                400,
                "RoleAssignmentLimitExceeded",
                f"The maximum number of role assignments at HSM scope ({MAX_HSM_SCOPE_ASSIGNMENTS}, "
                "'/' and '/keys' together) has been reached.",
            )
    else:
        count = sum(1 for a in hsm.role_assignments if _same_scope(a.scope, scope))
        if count >= MAX_KEY_SCOPE_ASSIGNMENTS:
            raise ApiError(
                400,
                "RoleAssignmentLimitExceeded",
                f"The maximum number of role assignments at key scope '{scope}' "
                f"({MAX_KEY_SCOPE_ASSIGNMENTS}) has been reached.",
            )
    return hsm.model_copy(update={"role_assignments": (*hsm.role_assignments, new)}), new


def delete_assignment(hsm: HsmState, scope: str, name: str) -> tuple[HsmState, DataRoleAssignment]:
    found = get_assignment(hsm, scope, name)
    kept = tuple(a for a in hsm.role_assignments if a is not found)
    return hsm.model_copy(update={"role_assignments": kept}), found


def _unsupported_filter(text: str) -> ApiError:
    supported = "atScope(), principalId eq '<id>'"
    return ApiError(400, "BadParameter", f"Unsupported $filter '{text}' (supported: {supported})")


def parse_data_filter(text: str | None) -> AssignmentFilter:
    return parse_assignment_filter(text, PRINCIPAL_EQ, _unsupported_filter)


def _hsm_level_visible(assigned: str, requested: str) -> bool:
    """The listing rule without a principal filter (an assumption, see ASSUMPTIONS.md)."""
    if assigned in HSM_WIDE:
        return True
    return requested not in HSM_WIDE and _same_scope(assigned, requested)


def list_assignments(
    hsm: HsmState, scope: str, flt: AssignmentFilter, index: AssignmentIndex | None = None
) -> list[DataRoleAssignment]:
    """What the service lists at `scope` with filter `flt`; `index` (of this `hsm`) answers an
    unfiltered list without scanning."""
    if flt.principal_id is None and index is not None and index.hsm is hsm:
        return index.visible_at(scope)
    out: list[DataRoleAssignment] = []
    for a in hsm.role_assignments:
        if flt.principal_id is not None:
            if a.principal_id != flt.principal_id:
                continue
            if flt.at_scope:
                if not _hsm_level_visible(a.scope, scope):
                    continue
            elif not (covers(a.scope, scope) or covers(scope, a.scope)):
                continue
        elif not _hsm_level_visible(a.scope, scope):
            continue
        out.append(a)
    return out


# ------------------------------------------------------------------------------------ definitions


def _definition_not_found() -> ApiError:
    return ApiError(404, "RoleDefinitionNotFound", "Requested role definition not found")


def _require_root(scope: str) -> None:
    if scope != "/":
        raise ApiError(400, "BadParameter", "Role definitions are only supported at scope '/'")


def get_definition(hsm: HsmState, name: str) -> RoleDefinition:
    found = find_role(hsm, name) if is_guid(name) else None
    if found is None:
        raise _definition_not_found()
    return found


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "BadParameter", f"'{field}' must be an array of strings")
    return tuple(value)


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, "BadParameter", f"'{field}' must be a string")
    return value


def put_definition(hsm: HsmState, scope: str, name: str, body: Any) -> tuple[HsmState, RoleDefinition]:
    _require_root(scope)
    if not is_guid(name):
        raise ApiError(400, "BadParameter", "Role definition name must be a GUID")
    if _is_builtin_name(hsm, name):
        raise ApiError(400, "BadParameter", BUILTIN_MESSAGE)
    props = _properties(body)
    perms = props.get("permissions")
    if perms is None:
        perms = []
    if not isinstance(perms, list) or not all(isinstance(p, Mapping) for p in perms):
        raise ApiError(400, "BadParameter", "'permissions' must be an array of objects")

    def block(i: int, p: Mapping[str, Any]) -> Permission:
        for field in ("actions", "notActions", "dataActions", "notDataActions"):
            _strings(p.get(field), f"permissions[{i}].{field}")
        return permission_from_rest(p)

    scopes = _strings(props.get("assignableScopes"), "assignableScopes") or ("/",)
    role = RoleDefinition(
        name=name,
        role_name=_text(props.get("roleName"), "roleName"),
        description=_text(props.get("description"), "description"),
        role_type="CustomRole",
        # kept block by block (an empty block holds nothing and is not kept)
        permissions=tuple(b for b in (block(i, p) for i, p in enumerate(perms)) if b != Permission()),
        assignable_scopes=scopes,
    )
    customs = list(hsm.role_definitions)
    index = next((i for i, r in enumerate(customs) if r.name == role.name), None)
    if index is None:
        if len(customs) >= MAX_CUSTOM_ROLES:
            raise ApiError(
                400,
                "RoleDefinitionLimitExceeded",
                f"The maximum number of custom role definitions ({MAX_CUSTOM_ROLES}) has been reached.",
            )
        customs.append(role)
    else:
        customs[index] = role
    return hsm.model_copy(update={"role_definitions": tuple(customs)}), role


def delete_definition(hsm: HsmState, scope: str, name: str) -> tuple[HsmState, RoleDefinition]:
    _require_root(scope)
    if is_guid(name) and _is_builtin_name(hsm, name):
        raise ApiError(400, "BadParameter", BUILTIN_MESSAGE)
    found = next((r for r in hsm.role_definitions if is_guid(name) and r.name == name.lower()), None)
    if found is None:
        raise _definition_not_found()
    kept = tuple(r for r in hsm.role_definitions if r is not found)
    return hsm.model_copy(update={"role_definitions": kept}), found


_SCOPE_FN = re.compile(r"^(atScope|atScopeAndBelow)\(\)$", re.IGNORECASE)


def list_definitions(hsm: HsmState, flt: str | None) -> list[RoleDefinition]:
    roles = all_roles(hsm)
    for part in filter_terms(flt):
        if _SCOPE_FN.match(part):
            continue
        if (wanted := role_name_term(part)) is not None:
            roles = [r for r in roles if r.role_name.lower() == wanted]
            continue
        raise ApiError(
            400,
            "BadParameter",
            f"Unsupported $filter '{flt}' (supported: roleName eq '<name>', atScope(), atScopeAndBelow())",
        )
    return roles


# ------------------------------------------------------------------------------------------ access


def role_grants(role: RoleDefinition, wanted: str) -> bool:
    """Evaluated as the service does: block by block (`core.capabilities.permits`)."""
    return permits(role.permissions, wanted, data=True)


def is_allowed(hsm: HsmState, principals: Iterable[str], wanted: str, scope: str) -> bool:
    """Does any assignment of these principals (the caller and its groups) grant `wanted` at `scope`?"""
    ids = {p.lower() for p in principals}
    roles = {r.name: r for r in all_roles(hsm)}
    for a in hsm.role_assignments:
        if a.principal_id not in ids or not covers(a.scope, scope):
            continue
        role = roles.get(a.role_definition_id)
        if role is not None and role_grants(role, wanted):
            return True
    return False
