"""ARM resources beyond RBAC: Managed HSM settings (PATCH), diagnostic settings on the HSM, Key Vault
access policies, and custom Azure role definitions (PUT/DELETE).

Everything lives in the same `LiveState` as the rest of the emulator: `HsmState.settings`,
`HsmState.diagnostic_settings`, `LiveState.vaults` and `ArmState.role_definitions`. See
ASSUMPTIONS.md ("ARM resources") for what the public material does not settle.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from pydantic import ValidationError

from hsmsync.core.catalog import management_roles
from hsmsync.core.ids import is_guid
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DiagnosticSetting,
    HsmSettings,
    HsmState,
    LiveState,
    NetworkAcls,
    VaultState,
)
from hsmsync.core.vault_permissions import PERMISSIONS
from hsmsync.emulator.errors import ApiError
from hsmsync.emulator.pipeline import Operation
from hsmsync.emulator.server import Request, Response
from hsmsync.emulator.store import Store

T = TypeVar("T")

HSM_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault/managedHSMs"
    r"/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)
_VAULT = re.compile(
    r"^(?P<id>/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault"
    r"/vaults/(?P<name>[^/]+))(?:/accessPolicies/(?P<kind>[^/]+))?/?$",
    re.IGNORECASE,
)
_DIAGNOSTIC = re.compile(
    r"^(?P<resource>.+?)/providers/Microsoft\.Insights/diagnosticSettings(?:/(?P<name>[^/]+))?/?$",
    re.IGNORECASE,
)
SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_MG = re.compile(r"^/providers/Microsoft\.Management/managementGroups/[^/]+", re.IGNORECASE)

MAX_ACCESS_POLICIES = 1024
# Log categories a Managed HSM emits, and the category groups that stand for them.
HSM_LOG_CATEGORIES = ("AuditEvent",)
HSM_CATEGORY_GROUPS = {"audit": HSM_LOG_CATEGORIES, "alllogs": HSM_LOG_CATEGORIES}
_POLICY_LISTS = ("keys", "secrets", "certificates", "storage")
# The service's permission names (azure-mgmt-keyvault enums), compared case-insensitively.
_PERMISSIONS = {kind: frozenset(p.lower() for p in names) for kind, names in PERMISSIONS.items()}


def _clean(raw: str) -> str:
    return "/" + "/".join(p for p in unquote(raw).split("/") if p)


def _key(scope: str) -> str:
    return _clean(scope).rstrip("/").lower()


def _at_or_above(assigned: str, requested: str) -> bool:
    a, r = _key(assigned), _key(requested)
    return a == "" or a == r or r.startswith(a + "/")


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidRequestContent", "The request content is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return body


def _properties(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ApiError(400, "InvalidRequestContent", "The request content must carry 'properties'.")
    return props


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "InvalidRequestContent", f"'{what}' must be a list of strings.")
    return value


# ---------------------------------------------------------------------------------------- JSON shapes


def hsm_settings_json(settings: HsmSettings) -> dict[str, Any]:
    """The `properties` fields of a Managed HSM that come from `HsmState.settings`."""
    return {
        "softDeleteRetentionInDays": settings.soft_delete_retention_days,
        "enablePurgeProtection": settings.purge_protection,
        "publicNetworkAccess": settings.public_network_access,
        "networkAcls": {
            "bypass": settings.network_acls.bypass,
            "defaultAction": settings.network_acls.default_action,
            "ipRules": [{"value": v} for v in settings.network_acls.ip_rules],
            "virtualNetworkRules": [],
        },
    }


def diagnostic_json(resource_id: str, setting: DiagnosticSetting) -> dict[str, Any]:
    return {
        "id": f"{resource_id}/providers/microsoft.insights/diagnosticSettings/{setting.name}",
        "name": setting.name,
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "storageAccountId": setting.storage_account_id,
            "workspaceId": setting.workspace_id,
            "eventHubAuthorizationRuleId": setting.event_hub_authorization_rule_id,
            "eventHubName": setting.event_hub_name,
            "serviceBusRuleId": None,
            "metrics": [],
            "logs": [
                {"category": c, "categoryGroup": None, "enabled": True, "retentionPolicy": None}
                for c in setting.categories
            ],
            "logAnalyticsDestinationType": None,
        },
    }


def _policy_json(tenant_id: str, policy: AccessPolicy) -> dict[str, Any]:
    return {
        "tenantId": tenant_id,
        "objectId": policy.object_id,
        "permissions": {kind: list(getattr(policy, kind)) for kind in _POLICY_LISTS},
    }


def vault_json(vault: VaultState) -> dict[str, Any]:
    name = vault.resource_id.rstrip("/").rsplit("/", 1)[-1]
    return {
        "id": vault.resource_id,
        "name": name,
        "type": "Microsoft.KeyVault/vaults",
        "location": "local",
        "tags": {},
        "properties": {
            "tenantId": vault.tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "accessPolicies": [_policy_json(vault.tenant_id, p) for p in vault.access_policies],
            "vaultUri": vault.url.rstrip("/") + "/",
            "enabledForDeployment": False,
            "enabledForDiskEncryption": False,
            "enabledForTemplateDeployment": False,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90,
            "enableRbacAuthorization": vault.enable_rbac_authorization,
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        },
    }


def definition_prefix(scope: str) -> str:
    """`/subscriptions/<s>/providers/Microsoft.Authorization/roleDefinitions/` for a scope."""
    m = SUBSCRIPTION.match(scope)
    sub = f"/subscriptions/{m.group(1)}" if m else ""
    return f"{sub}/providers/Microsoft.Authorization/roleDefinitions/"


def custom_role_json(role: ArmRoleDefinition, scope: str) -> dict[str, Any]:
    return {
        "id": f"{definition_prefix(scope)}{role.name}",
        "name": role.name,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role.role_name,
            "type": "CustomRole",
            "description": role.description,
            "assignableScopes": list(role.assignable_scopes),
            "permissions": [
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": list(role.data_actions),
                    "notDataActions": list(role.not_data_actions),
                }
            ],
            "createdOn": "2024-01-01T00:00:00.0000000Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


# ------------------------------------------------------------------------------------------ service


class ArmResources:
    """Routes for the resources above; `resolve` answers None for paths that are not theirs."""

    def __init__(self, store: Store, hsm_json: Callable[[str, HsmState, str], dict[str, Any]]) -> None:
        self._store = store
        self._hsm_json = hsm_json

    def resolve(self, request: Request) -> Operation | None:
        path, method = request.path, request.method
        if (m := _DIAGNOSTIC.match(path)) and not m.group("resource").lower().endswith("/providers"):
            resource, name = _clean(m.group("resource")), unquote(m.group("name") or "")
            return self._diagnostics(request, resource, name)
        if method == "PATCH" and (m := HSM_PATH.match(path)):
            body, rg, name = _body(request), m.group("rg"), m.group("name")
            return Operation(lambda: self._patch_hsm(path, rg, name, body))
        if v := _VAULT.match(path):
            vault_id, kind, vault_name = _clean(v.group("id")), v.group("kind"), v.group("name")
            if kind is None:
                if method != "GET":
                    raise ApiError(
                        405, "MethodNotAllowed", f"The emulator serves vaults read-only ({method})"
                    )
                return Operation(lambda: self._get_vault(vault_id, vault_name))
            if method != "PUT":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on accessPolicies")
            body = _body(request)
            return Operation(lambda: self._update_policies(vault_id, vault_name, kind, body))
        return None

    def _update(self, change: Callable[[LiveState], tuple[LiveState, T]]) -> T:
        return self._store.update(change)

    # ------------------------------------------------------------------------------ HSM settings

    def _find_hsm(self, state: LiveState, resource_id: str) -> tuple[str, HsmState] | None:
        wanted = _key(resource_id)
        for key, hsm in state.hsms.items():
            if hsm.resource_id and _key(hsm.resource_id) == wanted:
                return key, hsm
        return None

    def _patch_hsm(self, path: str, rg: str, name: str, body: dict[str, Any]) -> Response:
        props = _properties(body)

        def change(state: LiveState) -> tuple[LiveState, dict[str, Any]]:
            found = self._find_hsm(state, path)
            if found is None:
                raise ApiError(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.KeyVault/managedHSMs/{name}' under resource group '{rg}' "
                    "was not found.",
                )
            key, hsm = found
            settings = _patched_settings(hsm.settings, props)
            new_hsm = hsm.model_copy(update={"settings": settings})
            new_state = state
            if new_hsm != hsm:
                new_state = state.model_copy(update={"hsms": {**state.hsms, key: new_hsm}})
            return new_state, self._hsm_json(key, new_hsm, state.tenant_id)

        # 200 with the resource and provisioningState Succeeded: the SDK's LRO poller is done at once.
        return Response(200, self._update(change))

    # ------------------------------------------------------------------------ diagnostic settings

    def _diagnostics(self, request: Request, resource: str, name: str) -> Operation:
        method = request.method
        if not name:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on diagnosticSettings")
            return Operation(lambda: self._list_diagnostics(resource))
        if method == "GET":
            return Operation(lambda: self._get_diagnostic(resource, name))
        if method == "PUT":
            body = _body(request)
            return Operation(lambda: self._put_diagnostic(resource, name, body))
        if method == "DELETE":
            return Operation(lambda: self._delete_diagnostic(resource, name))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on a diagnostic setting")

    def _diagnostic_owner(self, state: LiveState, resource: str) -> tuple[str, HsmState]:
        found = self._find_hsm(state, resource)
        if found is None:
            raise ApiError(
                404,
                "ResourceNotFound",
                f"The resource '{resource}' was not found (the emulator keeps diagnostic settings on "
                "Managed HSMs only).",
            )
        return found

    def _list_diagnostics(self, resource: str) -> Response:
        _, hsm = self._diagnostic_owner(self._store.read(), resource)
        return Response(
            200, {"value": [diagnostic_json(hsm.resource_id, d) for d in hsm.diagnostic_settings]}
        )

    def _get_diagnostic(self, resource: str, name: str) -> Response:
        _, hsm = self._diagnostic_owner(self._store.read(), resource)
        for d in hsm.diagnostic_settings:
            if d.name.lower() == name.lower():
                return Response(200, diagnostic_json(hsm.resource_id, d))
        raise ApiError(404, "ResourceNotFound", f"The diagnostic setting '{name}' doesn't exist.")

    def _put_diagnostic(self, resource: str, name: str, body: dict[str, Any]) -> Response:
        setting = _diagnostic_from_body(name, _properties(body))

        def change(state: LiveState) -> tuple[LiveState, dict[str, Any]]:
            key, hsm = self._diagnostic_owner(state, resource)
            others = tuple(d for d in hsm.diagnostic_settings if d.name.lower() != name.lower())
            existing = next((d for d in hsm.diagnostic_settings if d.name.lower() == name.lower()), None)
            stored = setting.model_copy(update={"name": existing.name}) if existing else setting
            if existing == stored:
                return state, diagnostic_json(hsm.resource_id, stored)
            if existing is None and len(others) >= 5:
                raise ApiError(
                    400, "BadRequest", "Diagnostic settings limit of 5 for the resource has been reached."
                )
            new_hsm = hsm.model_copy(update={"diagnostic_settings": (*others, stored)})
            new_state = state.model_copy(update={"hsms": {**state.hsms, key: new_hsm}})
            return new_state, diagnostic_json(hsm.resource_id, stored)

        return Response(200, self._update(change))

    def _delete_diagnostic(self, resource: str, name: str) -> Response:
        def change(state: LiveState) -> tuple[LiveState, bool]:
            key, hsm = self._diagnostic_owner(state, resource)
            kept = tuple(d for d in hsm.diagnostic_settings if d.name.lower() != name.lower())
            if len(kept) == len(hsm.diagnostic_settings):
                return state, False
            new_hsm = hsm.model_copy(update={"diagnostic_settings": kept})
            return state.model_copy(update={"hsms": {**state.hsms, key: new_hsm}}), True

        return Response(200) if self._update(change) else Response(204)

    # ----------------------------------------------------------------------------------- vaults

    def _find_vault(self, state: LiveState, vault_id: str, name: str) -> tuple[str, VaultState]:
        for key, vault in state.vaults.items():
            if _key(vault.resource_id) == _key(vault_id):
                return key, vault
        raise ApiError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.KeyVault/vaults/{name}' was not found.",
        )

    def _get_vault(self, vault_id: str, name: str) -> Response:
        _, vault = self._find_vault(self._store.read(), vault_id, name)
        return Response(200, vault_json(vault))

    def _update_policies(self, vault_id: str, name: str, kind: str, body: dict[str, Any]) -> Response:
        operation = kind.lower()
        if operation not in ("add", "replace", "remove"):
            raise ApiError(
                400,
                "BadRequest",
                f"The operation kind '{kind}' is not valid; it must be 'add', 'replace' or 'remove'.",
            )
        entries = _properties(body).get("accessPolicies")
        if not isinstance(entries, list):
            raise ApiError(400, "BadRequest", "'properties.accessPolicies' must be a list.")

        def change(state: LiveState) -> tuple[LiveState, list[dict[str, Any]]]:
            key, vault = self._find_vault(state, vault_id, name)
            sent = [_policy_from_body(e, vault.tenant_id) for e in entries]
            policies = _edit_policies(vault.access_policies, sent, operation)
            if len(policies) > MAX_ACCESS_POLICIES:
                raise ApiError(
                    400,
                    "AccessPolicyLimitExceeded",
                    f"A vault can hold at most {MAX_ACCESS_POLICIES} access policies; this update "
                    f"would leave {len(policies)}.",
                )
            answer = [_policy_json(vault.tenant_id, p) for p in sent]
            if policies == vault.access_policies:
                return state, answer
            new_vault = vault.model_copy(update={"access_policies": policies})
            return state.model_copy(update={"vaults": {**state.vaults, key: new_vault}}), answer

        sent_back = self._update(change)
        return Response(
            200,
            {
                "id": f"{vault_id}/accessPolicies/{operation}",
                "name": operation,
                "type": "Microsoft.KeyVault/vaults/accessPolicies",
                "location": "local",
                "properties": {"accessPolicies": sent_back},
            },
        )

    # ----------------------------------------------------------------- custom Azure role definitions

    def custom_role(self, name: str) -> ArmRoleDefinition | None:
        n = name.lower()
        return next((r for r in self._store.read().arm.role_definitions if r.name == n), None)

    def custom_roles_at(self, scope: str, *, below: bool = False) -> list[ArmRoleDefinition]:
        """Custom roles assignable at `scope` (an assignable scope at or above it), and with `below`
        also those assignable somewhere under it."""
        out = []
        for role in self._store.read().arm.role_definitions:
            if any(
                _at_or_above(s, scope) or (below and _at_or_above(scope, s)) for s in role.assignable_scopes
            ):
                out.append(role)
        return out

    def write_definition(self, request: Request, scope: str, name: str) -> Operation:
        if not name:
            raise ApiError(405, "MethodNotAllowed", f"{request.method} needs a role definition id")
        if request.method == "PUT":
            body = _body(request)
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
        role = _role_from_body(name, _properties(body))
        outside = [s for s in role.assignable_scopes if not _at_or_above(scope, s)]
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


# ------------------------------------------------------------------------------- request parsing


def _patched_settings(current: HsmSettings, props: dict[str, Any]) -> HsmSettings:
    """The HSM's settings after a PATCH, enforcing what the service refuses."""
    update: dict[str, Any] = {}
    if "enablePurgeProtection" in props:
        value = props["enablePurgeProtection"]
        if not isinstance(value, bool):
            raise ApiError(400, "BadRequest", "'enablePurgeProtection' must be a boolean.")
        if current.purge_protection and not value:
            raise ApiError(
                400,
                "BadRequest",
                'The property "enablePurgeProtection" cannot be set to false. Enabling the purge '
                "protection for a managed HSM is an irreversible action.",
            )
        update["purge_protection"] = value
    if "softDeleteRetentionInDays" in props:
        days = props["softDeleteRetentionInDays"]
        if not isinstance(days, int) or isinstance(days, bool) or not 7 <= days <= 90:
            raise ApiError(400, "BadRequest", "'softDeleteRetentionInDays' must be an integer from 7 to 90.")
        if days != current.soft_delete_retention_days:
            raise ApiError(
                400,
                "BadRequest",
                'The property "softDeleteRetentionInDays" cannot be changed after the managed HSM is '
                f"created (it is {current.soft_delete_retention_days}).",
            )
    if "enableSoftDelete" in props and props["enableSoftDelete"] is False:
        raise ApiError(400, "BadRequest", "Soft delete cannot be disabled on a managed HSM.")
    if "publicNetworkAccess" in props:
        access = props["publicNetworkAccess"]
        if access not in ("Enabled", "Disabled"):
            raise ApiError(
                400, "BadRequest", f"'publicNetworkAccess' must be Enabled or Disabled, not {access!r}."
            )
        update["public_network_access"] = access
    if props.get("networkAcls") is not None:
        update["network_acls"] = _patched_acls(current.network_acls, props["networkAcls"])
    return current.model_copy(update=update)


def _patched_acls(current: NetworkAcls, acls: Any) -> NetworkAcls:
    if not isinstance(acls, dict):
        raise ApiError(400, "BadRequest", "'networkAcls' must be an object.")
    update: dict[str, Any] = {}
    if "defaultAction" in acls:
        if acls["defaultAction"] not in ("Allow", "Deny"):
            raise ApiError(400, "BadRequest", "'networkAcls.defaultAction' must be Allow or Deny.")
        update["default_action"] = acls["defaultAction"]
    if "bypass" in acls:
        if acls["bypass"] not in ("AzureServices", "None"):
            raise ApiError(400, "BadRequest", "'networkAcls.bypass' must be AzureServices or None.")
        update["bypass"] = acls["bypass"]
    if "ipRules" in acls:
        rules = acls["ipRules"] or []
        if not isinstance(rules, list) or not all(
            isinstance(r, dict) and isinstance(r.get("value"), str) for r in rules
        ):
            raise ApiError(400, "BadRequest", "'networkAcls.ipRules' must be a list of {\"value\": ...}.")
        update["ip_rules"] = tuple(r["value"] for r in rules)
    return current.model_copy(update=update)


def _diagnostic_from_body(name: str, props: dict[str, Any]) -> DiagnosticSetting:
    categories: list[str] = []
    logs = props.get("logs") or []
    if not isinstance(logs, list):
        raise ApiError(400, "BadRequest", "'logs' must be a list.")
    for entry in logs:
        if not isinstance(entry, dict) or not entry.get("enabled"):
            continue
        group, category = entry.get("categoryGroup"), entry.get("category")
        if isinstance(group, str) and group:
            found = HSM_CATEGORY_GROUPS.get(group.lower())
            if found is None:
                raise ApiError(400, "BadRequest", f"Category group '{group}' is not supported.")
            categories.extend(found)
        elif isinstance(category, str):
            known = {c.lower(): c for c in HSM_LOG_CATEGORIES}
            if category.lower() not in known:
                raise ApiError(400, "BadRequest", f"Category '{category}' is not supported.")
            categories.append(known[category.lower()])
    destinations = {
        "storage_account_id": props.get("storageAccountId"),
        "workspace_id": props.get("workspaceId"),
        "event_hub_authorization_rule_id": props.get("eventHubAuthorizationRuleId"),
    }
    if not any(destinations.values()):
        raise ApiError(
            400,
            "BadRequest",
            "At least one storage account, event hub or Log Analytics workspace must be specified.",
        )
    return DiagnosticSetting(
        name=name,
        categories=tuple(dict.fromkeys(categories)),
        event_hub_name=props.get("eventHubName") or None,
        **{k: v or None for k, v in destinations.items()},
    )


def _policy_from_body(entry: Any, vault_tenant: str) -> AccessPolicy:
    if not isinstance(entry, dict):
        raise ApiError(400, "BadRequest", "Each access policy must be an object.")
    object_id, tenant = entry.get("objectId"), entry.get("tenantId")
    if not isinstance(object_id, str) or not is_guid(object_id):
        raise ApiError(400, "BadRequest", f"The access policy's objectId {object_id!r} is not a valid GUID.")
    if not isinstance(tenant, str) or tenant.lower() != vault_tenant.lower():
        raise ApiError(
            400,
            "BadRequest",
            f"The access policy's tenantId {tenant!r} is not the vault's tenant ({vault_tenant}).",
        )
    permissions = entry.get("permissions") or {}
    if not isinstance(permissions, dict):
        raise ApiError(400, "BadRequest", "'permissions' must be an object.")
    lists: dict[str, tuple[str, ...]] = {}
    for kind in _POLICY_LISTS:
        names = {p.lower() for p in _str_list(permissions.get(kind), f"permissions.{kind}")}
        if "all" in names:
            names = (names - {"all"}) | _PERMISSIONS[kind]
        unknown = sorted(names - _PERMISSIONS[kind])
        if unknown:
            raise ApiError(400, "BadRequest", f"Invalid {kind} permission(s): {', '.join(unknown)}.")
        lists[kind] = tuple(sorted(names))
    try:
        return AccessPolicy(object_id=object_id, **lists)
    except ValidationError as exc:  # pragma: no cover - the checks above cover the model
        raise ApiError(400, "BadRequest", str(exc)) from None


def _edit_policies(
    current: tuple[AccessPolicy, ...], sent: list[AccessPolicy], operation: str
) -> tuple[AccessPolicy, ...]:
    """add merges into the entry for the object id; remove takes the listed permissions away and
    drops an entry left with none; replace makes the sent list the whole list."""
    if operation == "replace":
        merged: dict[str, AccessPolicy] = {}
        for p in sent:
            merged[p.object_id] = _combine(merged.get(p.object_id), p, add=True) or p
        return tuple(merged.values())
    policies = {p.object_id: p for p in current}
    for p in sent:
        found = policies.get(p.object_id)
        if operation == "add":
            policies[p.object_id] = _combine(found, p, add=True) or p
        elif found is not None:
            remaining = _combine(found, p, add=False)
            if remaining is None:
                del policies[p.object_id]
            else:
                policies[p.object_id] = remaining
    return tuple(policies.values())


def _combine(base: AccessPolicy | None, other: AccessPolicy, *, add: bool) -> AccessPolicy | None:
    """base + other (add) or base - other; None when a removal leaves no permission at all."""
    if base is None:
        return other if add else None
    lists = {}
    for kind in _POLICY_LISTS:
        have, change = set(getattr(base, kind)), set(getattr(other, kind))
        lists[kind] = tuple(sorted(have | change if add else have - change))
    if not add and not any(lists.values()):
        return None
    return base.model_copy(update=lists)


def _role_from_body(name: str, props: dict[str, Any]) -> ArmRoleDefinition:
    role_name = props.get("roleName")
    if not isinstance(role_name, str) or not role_name.strip():
        raise ApiError(400, "RoleDefinitionNameNullOrEmpty", "The role definition must have a name.")
    scopes = _str_list(props.get("assignableScopes"), "assignableScopes")
    if not scopes:
        raise ApiError(
            400, "RoleDefinitionAssignableScopesNullOrEmpty", "The role definition needs assignable scopes."
        )
    blocks = props.get("permissions") or []
    if not isinstance(blocks, list) or len(blocks) != 1 or not isinstance(blocks[0], dict):
        raise ApiError(400, "InvalidPermissions", "A custom role needs exactly one permissions block.")
    block = blocks[0]
    return ArmRoleDefinition(
        name=name,
        role_name=role_name,
        description=props.get("description") or "",
        actions=tuple(_str_list(block.get("actions"), "actions")),
        not_actions=tuple(_str_list(block.get("notActions"), "notActions")),
        data_actions=tuple(_str_list(block.get("dataActions"), "dataActions")),
        not_data_actions=tuple(_str_list(block.get("notDataActions"), "notDataActions")),
        assignable_scopes=tuple(scopes),
    )
