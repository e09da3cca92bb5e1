"""The ARM subset hsmsync uses: Azure RBAC role assignments and definitions, and Managed HSM resources."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from hsmsync.core.catalog import management_roles
from hsmsync.core.ids import is_guid
from hsmsync.core.limits import SUBSCRIPTION_ASSIGNMENT_LIMIT
from hsmsync.core.state import ArmRoleAssignment, HsmState, LiveState, RoleDefinition
from hsmsync_emulator.arm_account import AccountRoutes
from hsmsync_emulator.arm_common import ARM_TIMESTAMP, at_or_above, clean_path, scope_key
from hsmsync_emulator.arm_conditions import ROLE_SEPARATOR, check_assignment_conditions, role_of
from hsmsync_emulator.arm_custom_roles import arm_definition_json
from hsmsync_emulator.arm_resources import (
    HSM_PATH,
    ArmResources,
    custom_role_json,
    definition_prefix,
    hsm_settings_json,
)
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.filters import AssignmentFilter, filter_terms, parse_assignment_filter, role_name_term
from hsmsync_emulator.graph import check_principal
from hsmsync_emulator.pipeline import Operation, paged
from hsmsync_emulator.server import Request, Response
from hsmsync_emulator.store import Store

T = TypeVar("T")
_AUTHZ = re.compile(
    r"^(?P<scope>.*?)/providers/Microsoft\.Authorization/(?P<kind>roleAssignments|roleDefinitions)"
    r"(?:/(?P<name>[^/]*))?/?$",
    re.IGNORECASE,
)
_HSM_LIST = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+))?/providers/Microsoft\.KeyVault/managedHSMs/?$",
    re.IGNORECASE,
)
_ACTIVATED = "Your HSM has been activated and can be used for cryptographic operations."
_PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal")


def assignment_json(a: ArmRoleAssignment) -> dict[str, Any]:
    base = a.scope.rstrip("/")
    return {
        "properties": {
            "roleDefinitionId": definition_prefix(a.scope) + a.role_definition_id,
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "condition": a.condition,
            "conditionVersion": a.condition_version,
            "createdOn": ARM_TIMESTAMP,
            "updatedOn": ARM_TIMESTAMP,
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
        "id": f"{base}/providers/Microsoft.Authorization/roleAssignments/{a.name}",
        "type": "Microsoft.Authorization/roleAssignments",
        "name": a.name,
    }


def definition_json(role: RoleDefinition, scope: str) -> dict[str, Any]:
    return arm_definition_json(role, scope, "BuiltInRole")


def hsm_json(name: str, hsm: HsmState, tenant_id: str) -> dict[str, Any]:
    return {
        "id": hsm.resource_id,
        "name": hsm.resource_id.rstrip("/").rsplit("/", 1)[-1] or name,
        "type": "Microsoft.KeyVault/managedHSMs",
        "location": "local",
        "sku": {"family": "B", "name": "Standard_B1"},
        "tags": {},
        "properties": {
            "tenantId": tenant_id,
            "initialAdminObjectIds": list(hsm.initial_admin_object_ids),
            "hsmUri": hsm.url.rstrip("/") + "/",
            "enableSoftDelete": True,
            "statusMessage": "The Managed HSM is provisioned and ready to use.",
            "provisioningState": "Succeeded",
            "privateEndpointConnections": [],
            **hsm_settings_json(hsm.settings),
            "regions": [],
            "securityDomainProperties": {
                "activationStatus": "Active",
                "activationStatusMessage": _ACTIVATED,
            },
        },
    }


_PRINCIPAL = re.compile(r"^(?:principalId\s+eq\s+'([^']*)'|assignedTo\('([^']*)'\))$", re.IGNORECASE)
_TYPE = re.compile(r"^type\s+eq\s+'(.*)'$", re.IGNORECASE)


def _condition(props: dict[str, Any]) -> tuple[str | None, str | None]:
    """A role assignment's ABAC condition and version; the version defaults to 2.0, the only one."""
    condition, version = props.get("condition"), props.get("conditionVersion")
    if condition is None:
        return None, None
    if not isinstance(condition, str) or not condition.strip():
        raise ApiError(400, "InvalidCondition", "The condition must be a non-empty string.")
    if version not in (None, "2.0"):
        raise ApiError(400, "InvalidConditionVersion", f"The condition version '{version}' is not supported.")
    return condition, "2.0"


def _unsupported_filter(text: str) -> ApiError:
    return ApiError(400, "InvalidFilterInQueryString", f"The filter '{text}' is not supported.")


def parse_filter(text: str | None) -> AssignmentFilter:
    return parse_assignment_filter(text, _PRINCIPAL, _unsupported_filter)


def _subscription(scope: str) -> str | None:
    parts = [p for p in scope.split("/") if p]
    return parts[1].lower() if len(parts) >= 2 and parts[0].lower() == "subscriptions" else None


def _check_subscription_limit(current: tuple[ArmRoleAssignment, ...], scope: str) -> None:
    """Azure's 4,000 role assignments per subscription (RoleAssignmentLimitExceeded)."""
    sub = _subscription(scope)
    if sub is None:
        return
    if sum(1 for a in current if _subscription(a.scope) == sub) >= SUBSCRIPTION_ASSIGNMENT_LIMIT:
        raise ApiError(
            400,
            "RoleAssignmentLimitExceeded",
            f"No more role assignments can be created in subscription {sub}: the limit of "
            f"{SUBSCRIPTION_ASSIGNMENT_LIMIT} has been reached.",
        )


_WRITE = "Microsoft.Authorization/roleAssignments/write"
_DELETE = "Microsoft.Authorization/roleAssignments/delete"


class ArmService:
    def __init__(self, store: Store, page_size: Callable[[], int], listing_lag: float = 0.0) -> None:
        self._store = store
        self._page_size = page_size
        # Role-assignment listings show the state of this many seconds ago (`--replica arm=`).
        self._listing_lag = listing_lag
        self._resources = ArmResources(store, hsm_json)  # settings, diagnostics, vaults, custom roles
        self._account = AccountRoutes(store, page_size)  # subscriptions and tenants

    def is_allowed(self, principals: frozenset[str], action: str, scope: str) -> bool:
        # ARM is otherwise open here (ASSUMPTIONS.md 35); role-assignment conditions are enforced.
        check_assignment_conditions(self._store.read(), principals, action, scope)
        return True

    def _change(
        self, change: Callable[[tuple[ArmRoleAssignment, ...]], tuple[tuple[ArmRoleAssignment, ...], T]]
    ) -> T:
        def apply(state: LiveState) -> tuple[LiveState, T]:
            new, result = change(state.arm.role_assignments)
            if new is state.arm.role_assignments:
                return state, result
            arm = state.arm.model_copy(update={"role_assignments": new})
            return state.model_copy(update={"arm": arm}), result

        return self._store.update(apply)

    def resolve(self, request: Request) -> Operation:
        path = request.path
        if (resource := self._resources.resolve(request)) is not None:
            return resource
        if (account := self._account.resolve(request)) is not None:
            return account
        if m := _AUTHZ.match(path):
            scope = clean_path(m.group("scope"))
            name = unquote(m.group("name") or "")
            if m.group("kind").lower() == "roleassignments":
                return self._assignments(request, scope, name)
            return self._definitions(request, scope, name)
        if request.method == "GET" and (m := HSM_PATH.match(path)):
            rg, hsm_name = m.group("rg"), m.group("name")
            return Operation(lambda: self._get_hsm(path, rg, hsm_name))
        if request.method == "GET" and (m := _HSM_LIST.match(path)):
            sub, rg = m.group("sub"), m.group("rg")
            return Operation(lambda: self._list_hsms(request, sub, rg))
        raise ApiError(404, "NotFound", f"No route for {request.method} {path} in the emulator")

    # -------------------------------------------------------------------------------- managed HSMs

    def _get_hsm(self, path: str, rg: str, name: str) -> Response:
        state = self._store.read()
        wanted = clean_path(path).lower()
        for key, hsm in state.hsms.items():
            if hsm.resource_id and clean_path(hsm.resource_id).lower() == wanted:
                return Response(200, hsm_json(key, hsm, state.tenant_id))
        raise ApiError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.KeyVault/managedHSMs/{name}' under resource group '{rg}' "
            "was not found.",
        )

    def _list_hsms(self, request: Request, sub: str, rg: str | None) -> Response:
        state = self._store.read()
        prefix = f"/subscriptions/{sub}/" + (f"resourcegroups/{rg}/" if rg else "")
        items = [
            hsm_json(key, hsm, state.tenant_id)
            for key, hsm in state.hsms.items()
            if hsm.resource_id and clean_path(hsm.resource_id).lower().startswith(prefix.lower())
        ]
        return paged(items, request, self._page_size(), token="$skipToken")

    # ------------------------------------------------------------------------------ role assignments

    def _assignments(self, request: Request, scope: str, name: str) -> Operation:
        m = request.method
        if m == "GET" and not name:
            flt = parse_filter(request.param("$filter"))
            return Operation(lambda: self._list(request, scope, flt))
        if not name:
            raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on a role assignment collection")
        if m == "GET":
            return Operation(lambda: self._get(scope, name))
        if m == "PUT":
            try:
                body = request.json()
            except (ValueError, UnicodeDecodeError):
                raise ApiError(
                    400, "InvalidRequestContent", "The request content is not valid JSON."
                ) from None
            write = f"{_WRITE}{ROLE_SEPARATOR}{role_of(body)}"
            return Operation(lambda: self._put(scope, name, body), write, scope)
        if m == "DELETE":
            found = self._find(scope, name)
            delete = f"{_DELETE}{ROLE_SEPARATOR}{found.role_definition_id.lower() if found else ''}"
            return Operation(lambda: self._delete(scope, name), delete, scope)
        raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on a role assignment")

    def _find(self, scope: str, name: str) -> ArmRoleAssignment | None:
        n = name.lower()
        return next(
            (
                a
                for a in self._store.read().arm.role_assignments
                if a.name == n and scope_key(a.scope) == scope_key(scope)
            ),
            None,
        )

    def _get(self, scope: str, name: str) -> Response:
        found = self._find(scope, name)
        if found is None:
            raise ApiError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
        return Response(200, assignment_json(found))

    def _list(self, request: Request, scope: str, flt: AssignmentFilter) -> Response:
        items = []
        for a in self._store.read_as_of(self._listing_lag).arm.role_assignments:
            if flt.principal_id is not None and a.principal_id != flt.principal_id:
                continue
            above = at_or_above(a.scope, scope)
            if flt.at_scope and not above:
                continue
            if not above and not at_or_above(scope, a.scope):
                continue
            items.append(assignment_json(a))
        return paged(items, request, self._page_size(), token="$skipToken")

    def _put(self, scope: str, name: str, body: Any) -> Response:
        if not is_guid(name):
            raise ApiError(
                400,
                "InvalidRoleAssignmentId",
                f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
            )
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise ApiError(400, "InvalidRequestContent", "The request content must carry 'properties'.")
        role_id = props.get("roleDefinitionId")
        principal = props.get("principalId")
        principal_type = props.get("principalType") or "User"
        role_guid = role_id.rstrip("/").rsplit("/", 1)[-1] if isinstance(role_id, str) else ""
        if not is_guid(role_guid):
            raise ApiError(
                400, "InvalidRoleDefinitionId", f"The role definition ID '{role_id}' is not valid."
            )
        if not isinstance(principal, str) or not is_guid(principal):
            raise ApiError(
                400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment."
            )
        if principal_type not in _PRINCIPAL_TYPES:
            raise ApiError(
                400, "UnsupportedPrincipalType", f"The principal type '{principal_type}' is not supported."
            )
        condition, version = _condition(props)
        check_principal(self._store.read(), principal)  # PrincipalNotFound when the state has a directory
        new = ArmRoleAssignment(
            name=name,
            scope=scope,
            role_definition_id=role_guid,
            principal_id=principal,
            principal_type=principal_type,
            condition=condition,
            condition_version=version,
        )

        def change(
            current: tuple[ArmRoleAssignment, ...],
        ) -> tuple[tuple[ArmRoleAssignment, ...], ArmRoleAssignment]:
            for a in current:
                same_target = (
                    a.role_definition_id == new.role_definition_id
                    and a.principal_id == new.principal_id
                    and scope_key(a.scope) == scope_key(scope)
                )
                if a.name == new.name:
                    if same_target and (a.condition, a.condition_version) == (condition, version):
                        return current, a
                    if same_target:  # ARM updates a condition in place (PUT of the same name)
                        return tuple(new if x is a else x for x in current), new
                    raise ApiError(
                        400,
                        "RoleAssignmentUpdateNotPermitted",
                        "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                    )
                if same_target:
                    raise ApiError(409, "RoleAssignmentExists", "The role assignment already exists.")
            _check_subscription_limit(current, scope)
            return (*current, new), new

        return Response(201, assignment_json(self._change(change)))

    def _delete(self, scope: str, name: str) -> Response:
        def change(
            current: tuple[ArmRoleAssignment, ...],
        ) -> tuple[tuple[ArmRoleAssignment, ...], ArmRoleAssignment | None]:
            n = name.lower()
            found = next((a for a in current if a.name == n and scope_key(a.scope) == scope_key(scope)), None)
            if found is None:
                return current, None
            return tuple(a for a in current if a is not found), found

        deleted = self._change(change)
        return Response(204) if deleted is None else Response(200, assignment_json(deleted))

    # ------------------------------------------------------------------------------ role definitions

    def _definitions(self, request: Request, scope: str, name: str) -> Operation:
        if request.method in ("PUT", "DELETE"):
            return self._resources.write_definition(request, scope, name)  # custom roles
        if request.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported on role definitions")
        if name:
            return Operation(lambda: self._get_definition(scope, name))
        flt = request.param("$filter")
        return Operation(lambda: self._list_definitions(request, scope, flt))

    def _get_definition(self, scope: str, name: str) -> Response:
        custom = self._resources.custom_role(name)
        if custom is not None:
            return Response(200, custom_role_json(custom, scope))
        role = next((r for r in self._builtin_roles() if r.name == name.lower()), None)
        if role is None:
            raise ApiError(
                404,
                "RoleDefinitionDoesNotExist",
                f"The specified role definition with ID '{name}' does not exist.",
            )
        return Response(200, definition_json(role, scope))

    def _builtin_roles(self) -> list[RoleDefinition]:
        """The built-in Azure roles served: hsmsync's catalog, overridden (and extended) by the
        state's `arm.builtin_role_definitions` when it lists some (a service newer than the catalog)."""
        roles = {r.name: r for r in management_roles()}
        for b in self._store.read().arm.builtin_role_definitions or ():
            roles[b.name] = RoleDefinition(
                name=b.name, role_name=b.role_name, description=b.description, permissions=b.permissions
            )
        return list(roles.values())

    def _list_definitions(self, request: Request, scope: str, flt: str | None) -> Response:
        roles = self._builtin_roles()
        below = bool(flt) and re.search(r"atScopeAndBelow\(\)", flt or "", re.IGNORECASE) is not None
        customs = self._resources.custom_roles_at(scope, below=below)
        for part in filter_terms(flt):
            if (wanted := role_name_term(part)) is not None:
                roles = [r for r in roles if r.role_name.lower() == wanted]
                customs = [r for r in customs if r.role_name.lower() == wanted]
            elif m := _TYPE.match(part):
                kind = m.group(1).lower()
                roles = roles if kind == "builtinrole" else []
                customs = customs if kind == "customrole" else []
            elif not re.match(r"^atScope(AndBelow)?\(\)$", part, re.IGNORECASE):
                raise _unsupported_filter(flt or "")
        items = [definition_json(r, scope) for r in roles] + [custom_role_json(r, scope) for r in customs]
        return paged(items, request, self._page_size(), token="$skipToken")
