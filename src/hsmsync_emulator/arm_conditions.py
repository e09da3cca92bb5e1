"""Role-assignment conditions where the emulator enforces them (ASSUMPTIONS.md, ARM 35 and the
vault data plane): hsmsync's own evaluator (core/conditions.py) decides, and a condition it cannot
evaluate denies, as a condition Azure cannot satisfy does.

The emulator's ARM does not otherwise authorize (any signed-in principal may write role
assignments): a caller is held to conditions only when every assignment through which it may
write (or delete) role assignments at the scope carries one.
"""

from __future__ import annotations

from typing import Any

from hsmsync.core.capabilities import permits
from hsmsync.core.catalog import management_role_map
from hsmsync.core.conditions import Request, Verdict, assignment_request, evaluate, name_request
from hsmsync.core.state import ArmRoleAssignment, LiveState
from hsmsync_emulator.arm_common import at_or_above
from hsmsync_emulator.errors import ApiError

# How a role-assignment operation names the role it writes or deletes to `ArmService.is_allowed`.
ROLE_SEPARATOR = "#"


def role_of(body: Any) -> str:
    """The role GUID a PUT's body asks for ("" when the body is malformed: the PUT says why)."""
    props = body.get("properties") if isinstance(body, dict) else None
    role_id = props.get("roleDefinitionId") if isinstance(props, dict) else None
    return role_id.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(role_id, str) else ""


def check_assignment_conditions(
    state: LiveState, principals: frozenset[str], action: str, scope: str
) -> None:
    """403 AuthorizationFailed when the caller may `action` a role assignment at `scope` only
    through conditional assignments and none of their conditions allows this role."""
    verb, _, role = action.partition(ROLE_SEPARATOR)
    if not role:
        return
    roles = management_role_map(state.arm.role_definitions)
    granting: list[ArmRoleAssignment] = []
    for a in state.arm.role_assignments:
        if a.principal_id.lower() not in principals or not at_or_above(a.scope, scope):
            continue
        role_def = roles.get(a.role_definition_id.lower())
        if role_def is not None and permits(role_def.permissions, verb, data=False):
            granting.append(a)
    if not granting or any(a.condition is None for a in granting):
        return
    if any(
        evaluate(a.condition or "", assignment_request(verb, [role])) is Verdict.ALLOWED for a in granting
    ):
        return
    caller = next(iter(sorted(principals)), "")
    raise ApiError(
        403,
        "AuthorizationFailed",
        f"The client with object id '{caller}' does not have authorization to perform action "
        f"'{verb}' over scope '{scope}' or the scope is invalid. The role assignment's condition "
        f"was not met for role definition '{role}'.",
    )


def condition_allows(a: ArmRoleAssignment, action: str, scope: str) -> bool:
    """Does `a`'s condition (if any) allow the vault data action at `scope` ('/secrets/<name>',
    '/keys', ...)? The object's name is the attribute hsmsync supplies."""
    if a.condition is None:
        return True
    parts = scope.strip("/").split("/")
    request = name_request(action, parts[0], parts[1]) if len(parts) > 1 else Request(action, {})
    return evaluate(a.condition, request) is Verdict.ALLOWED
