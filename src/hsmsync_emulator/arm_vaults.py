"""Key Vaults in the emulator's ARM: vaults (GET, and PATCH of the permission model) and their access
policies (`LiveState.vaults`)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from hsmsync.core.ids import is_guid
from hsmsync.core.limits import ACCESS_POLICY_LIMIT
from hsmsync.core.state import AccessPolicy, LiveState, VaultState
from hsmsync.core.vault_permissions import PERMISSIONS
from hsmsync_emulator.arm_common import ArmResourceBase, properties_of, scope_key, str_list
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.server import Response

VAULT_PATH = re.compile(
    r"^(?P<id>/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault"
    r"/vaults/(?P<name>[^/]+))(?:/accessPolicies/(?P<kind>[^/]+))?/?$",
    re.IGNORECASE,
)

MAX_ACCESS_POLICIES = ACCESS_POLICY_LIMIT
_POLICY_LISTS = ("keys", "secrets", "certificates", "storage")
# The service's permission names (azure-mgmt-keyvault enums), compared case-insensitively.
_PERMISSIONS = {kind: frozenset(p.lower() for p in names) for kind, names in PERMISSIONS.items()}


def _policy_json(tenant_id: str, policy: AccessPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {"tenantId": tenant_id, "objectId": policy.object_id}
    if policy.application_id is not None:  # a compound identity: the user through this application
        out["applicationId"] = policy.application_id
    out["permissions"] = {kind: list(getattr(policy, kind)) for kind in _POLICY_LISTS}
    return out


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


class VaultRoutes(ArmResourceBase):
    """GET of a vault and PUT of its access policies (add, replace, remove)."""

    def _find_vault(self, state: LiveState, vault_id: str, name: str) -> tuple[str, VaultState]:
        for key, vault in state.vaults.items():
            if scope_key(vault.resource_id) == scope_key(vault_id):
                return key, vault
        raise ApiError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.KeyVault/vaults/{name}' was not found.",
        )

    def _get_vault(self, vault_id: str, name: str) -> Response:
        _, vault = self._find_vault(self._store.read(), vault_id, name)
        return Response(200, vault_json(vault))

    def _patch_vault(self, vault_id: str, name: str, body: dict[str, Any]) -> Response:
        """PATCH a vault: the emulator changes its permission model (`enableRbacAuthorization`) only.
        The access policies stay as they are either way (inert under RBAC, live again when
        switched back), as in Azure."""
        props = properties_of(body)
        unsupported = sorted(k for k, v in props.items() if k != "enableRbacAuthorization" and v is not None)
        if unsupported:
            raise ApiError(
                400, "BadRequest", f"The emulator does not update vault properties {', '.join(unsupported)}."
            )
        wanted = props.get("enableRbacAuthorization")
        if wanted is not None and not isinstance(wanted, bool):
            raise ApiError(400, "BadRequest", "'properties.enableRbacAuthorization' must be true or false.")

        def change(state: LiveState) -> tuple[LiveState, VaultState]:
            key, vault = self._find_vault(state, vault_id, name)
            if wanted is None or wanted == vault.enable_rbac_authorization:
                return state, vault
            new_vault = vault.model_copy(update={"enable_rbac_authorization": wanted})
            return state.model_copy(update={"vaults": {**state.vaults, key: new_vault}}), new_vault

        return Response(200, vault_json(self._update(change)))

    def _update_policies(self, vault_id: str, name: str, kind: str, body: dict[str, Any]) -> Response:
        operation = kind.lower()
        if operation not in ("add", "replace", "remove"):
            raise ApiError(
                400,
                "BadRequest",
                f"The operation kind '{kind}' is not valid; it must be 'add', 'replace' or 'remove'.",
            )
        entries = properties_of(body).get("accessPolicies")
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


def _policy_from_body(entry: Any, vault_tenant: str) -> AccessPolicy:
    if not isinstance(entry, dict):
        raise ApiError(400, "BadRequest", "Each access policy must be an object.")
    object_id, tenant = entry.get("objectId"), entry.get("tenantId")
    if not isinstance(object_id, str) or not is_guid(object_id):
        raise ApiError(400, "BadRequest", f"The access policy's objectId {object_id!r} is not a valid GUID.")
    application_id = entry.get("applicationId") or None
    if application_id is not None and (not isinstance(application_id, str) or not is_guid(application_id)):
        raise ApiError(
            400, "BadRequest", f"The access policy's applicationId {application_id!r} is not a valid GUID."
        )
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
        names = {p.lower() for p in str_list(permissions.get(kind), f"permissions.{kind}")}
        if "all" in names:
            names = (names - {"all"}) | _PERMISSIONS[kind]
        unknown = sorted(names - _PERMISSIONS[kind])
        if unknown:
            raise ApiError(400, "BadRequest", f"Invalid {kind} permission(s): {', '.join(unknown)}.")
        lists[kind] = tuple(sorted(names))
    try:
        return AccessPolicy(object_id=object_id, application_id=application_id, **lists)
    except ValidationError as exc:  # pragma: no cover - the checks above cover the model
        raise ApiError(400, "BadRequest", str(exc)) from None


def _edit_policies(
    current: tuple[AccessPolicy, ...], sent: list[AccessPolicy], operation: str
) -> tuple[AccessPolicy, ...]:
    """add merges into the entry for the object id (and application id: a compound identity's
    entry is its own, as in ARM, where an entry matches on tenant, object and application); remove
    takes the listed permissions away and drops an entry left with none; replace makes the sent
    list the whole list."""
    if operation == "replace":
        merged: dict[str, AccessPolicy] = {}
        for p in sent:
            merged[p.entry_key] = _combine(merged.get(p.entry_key), p, add=True) or p
        return tuple(merged.values())
    policies = {p.entry_key: p for p in current}
    for p in sent:
        found = policies.get(p.entry_key)
        if operation == "add":
            policies[p.entry_key] = _combine(found, p, add=True) or p
        elif found is not None:
            remaining = _combine(found, p, add=False)
            if remaining is None:
                del policies[p.entry_key]
            else:
                policies[p.entry_key] = remaining
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
