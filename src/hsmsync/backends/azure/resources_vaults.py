"""Key Vault access policies (`vaults.get` / `vaults.update_access_policy`) through the official SDKs.

Per principal, an apply sends `add` for missing permissions then `remove` for extra ones (never
`replace`, which would rewrite every other principal's entry).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceNotFoundError

from hsmsync.backends.azure.errors import REPLY_ERRORS, Attempt, call_arm, sdk_errors
from hsmsync.backends.azure.ids import enum_text
from hsmsync.backends.azure.resources_common import ResourceClients, ResourceReading
from hsmsync.backends.base import Outcome, VaultRef
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.plan import Action, Change
from hsmsync.core.state import AccessPolicy, VaultState
from hsmsync.core.vault_permissions import PERMISSIONS

if TYPE_CHECKING:
    from azure.mgmt.keyvault import KeyVaultManagementClient
    from azure.mgmt.keyvault.models import AccessPolicyEntry

_VAULT_ID = re.compile(
    r"(?i)^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.KeyVault/vaults/([^/]+)$"
)
_POLICY_LISTS = ("keys", "secrets", "certificates", "storage")
_CANONICAL = {kind: {p.lower(): p for p in names} for kind, names in PERMISSIONS.items()}


@dataclass(frozen=True, slots=True)
class VaultId:
    subscription_id: str
    resource_group: str
    name: str


def parse_vault_id(resource_id: str) -> VaultId | None:
    m = _VAULT_ID.match("/" + "/".join(p for p in resource_id.strip().split("/") if p))
    return VaultId(m.group(1), m.group(2), m.group(3)) if m else None


def _permission_set(names: Iterable[object] | None, kind: str) -> tuple[str, ...]:
    lowered = {enum_text(n).lower() for n in names or ()}
    if "all" in lowered:
        lowered = (lowered - {"all"}) | set(_CANONICAL[kind])
    return tuple(sorted(lowered))


def policy_from_sdk(entry: AccessPolicyEntry) -> AccessPolicy:
    perms = entry.permissions
    return AccessPolicy(
        object_id=str(entry.object_id),
        application_id=str(entry.application_id) if entry.application_id else None,
        keys=_permission_set(perms.keys_property if perms else None, "keys"),
        secrets=_permission_set(perms.secrets if perms else None, "secrets"),
        certificates=_permission_set(perms.certificates if perms else None, "certificates"),
        storage=_permission_set(perms.storage if perms else None, "storage"),
    )


def _sdk_permissions(policy: AccessPolicy) -> dict[str, list[str]]:
    """The policy's non-empty lists, with the service's spelling (wrapKey, not wrapkey)."""
    out = {}
    for kind in _POLICY_LISTS:
        names = getattr(policy, kind)
        if names:
            out[kind] = [_CANONICAL[kind].get(n, n) for n in names]
    return out


class VaultResources(ResourceClients):
    """Reads a vault's access policies; applies ACCESS_POLICY changes."""

    def _read_vault(self, ref: VaultRef, out: ResourceReading) -> None:
        parsed = parse_vault_id(ref.resource_id)
        if parsed is None:
            raise StateError(f"vault '{ref.name}': '{ref.resource_id}' is not a Key Vault resource id")
        client = self._keyvault(parsed.subscription_id)
        reading = Attempt("read vault", "management", ref.name, ref.resource_id, url=self.clients.arm_url)
        with sdk_errors(reading):
            try:
                vault = client.vaults.get(parsed.resource_group, parsed.name)
            except ResourceNotFoundError as exc:
                raise StateError(
                    f"vault '{ref.name}': {ref.resource_id} does not exist (hsmsync manages its access "
                    "policies, it does not create vaults)"
                ) from exc
        props = vault.properties
        try:
            merged: dict[str, AccessPolicy] = {}
            for entry in props.access_policies or ():
                # Compound identities (a user through an application) are entries of their own.
                policy = policy_from_sdk(entry)
                if policy.entry_key in merged:
                    policy = _union(merged[policy.entry_key], policy)
                merged[policy.entry_key] = policy
            out.vaults[ref.name] = VaultState(
                url=(props.vault_uri or "").rstrip("/") or ref.url,  # what Azure says, to check the manifest
                resource_id=vault.id or ref.resource_id,
                tenant_id=str(props.tenant_id),
                enable_rbac_authorization=bool(props.enable_rbac_authorization),
                access_policies=tuple(merged.values()),
            )
        except REPLY_ERRORS as exc:
            raise StateError(f"vault '{ref.name}': unreadable access policies: {exc}") from exc

    def read_access_policies(self, name: str, resource_id: str) -> tuple[AccessPolicy, ...]:
        """The vault's access-policy entries as discovery reads them (apply's read-back)."""
        out = ResourceReading()
        self._read_vault(VaultRef(name, "", resource_id), out)
        return out.vaults[name].access_policies

    def _apply_access_policy(self, change: Change) -> Outcome:
        parsed = parse_vault_id(change.scope)
        if parsed is None:
            raise BackendError(f"change {change.id}: '{change.scope}' is not a Key Vault resource id")
        client = self._keyvault(parsed.subscription_id)
        vault = call_arm(
            self.clients.arm_url,
            self._attempt("read vault access policies", change),
            lambda: client.vaults.get(parsed.resource_group, parsed.name),
        )
        if not isinstance(change.payload, AccessPolicy):
            raise BackendError(f"change {change.id}: an access-policy change needs the entry as payload")
        payload = change.payload
        tenant = str(vault.properties.tenant_id)
        entry = _PolicyEntry(change, client, parsed, tenant, payload.object_id, payload.application_id)
        # Only the entry of this (object, application): never the same object's other entries.
        entries = [
            p
            for p in map(policy_from_sdk, vault.properties.access_policies or ())
            if p.entry_key == payload.entry_key
        ]
        current = _union(*entries) if entries else None
        if change.action is Action.DELETE:
            wanted = AccessPolicy(object_id=payload.object_id, application_id=payload.application_id)
        else:
            wanted = payload
        missing = _difference(wanted, current)
        extra = _difference(current, wanted) if current is not None else None
        sent: list[tuple[str, AccessPolicy]] = []
        # Add before remove: the principal never loses, even for a moment, a permission it keeps.
        if current is None and change.action is not Action.DELETE:
            sent.append(("add", wanted))  # creates the entry (even one with no permissions)
        elif missing is not None and _any(missing):
            sent.append(("add", missing))
        if change.action is Action.DELETE and current is not None:
            sent.append(("remove", current))  # every permission it has: the service drops the entry
        elif extra is not None and _any(extra):
            sent.append(("remove", extra))
        for kind, policy in sent:
            self._update_access_policy(entry, kind, policy)
        return Outcome.DONE if sent else Outcome.ALREADY_DONE

    def switch_permission_model(self, name: str, resource_id: str, rbac: bool) -> None:
        """PATCH the vault's `enableRbacAuthorization` (nothing else; its access policies stay)."""
        from azure.mgmt.keyvault.models import VaultPatchParameters, VaultPatchProperties

        parsed = parse_vault_id(resource_id)
        if parsed is None:
            raise BackendError(f"vault '{name}': '{resource_id}' is not a Key Vault resource id")
        client = self._keyvault(parsed.subscription_id)
        params = VaultPatchParameters(properties=VaultPatchProperties(enable_rbac_authorization=rbac))
        verb = f"switch vault {name} to {'Azure RBAC' if rbac else 'access policies'}"
        attempt = Attempt(verb, "management", name, resource_id, url=self.clients.arm_url)
        call_arm(
            self.clients.arm_url,
            attempt,
            lambda: client.vaults.update(parsed.resource_group, parsed.name, params),
        )

    def _update_access_policy(self, entry: _PolicyEntry, kind: str, policy: AccessPolicy) -> None:
        from azure.mgmt.keyvault.models import (
            AccessPolicyEntry,
            Permissions,
            VaultAccessPolicyParameters,
            VaultAccessPolicyProperties,
        )

        perms = _sdk_permissions(policy)
        sdk_entry = AccessPolicyEntry(
            tenant_id=entry.tenant,
            object_id=entry.object_id,
            application_id=entry.application_id,
            permissions=Permissions(
                keys_property=perms.get("keys", []),
                secrets=perms.get("secrets", []),
                certificates=perms.get("certificates", []),
                storage=perms.get("storage", []),
            ),
        )
        params = VaultAccessPolicyParameters(
            properties=VaultAccessPolicyProperties(access_policies=[sdk_entry])
        )
        vault = entry.vault
        call_arm(
            self.clients.arm_url,
            self._attempt(
                f"{kind} access-policy permissions of {entry.who} on vault {vault.name}", entry.change
            ),
            lambda: entry.client.vaults.update_access_policy(vault.resource_group, vault.name, kind, params),
        )


@dataclass(frozen=True, slots=True)
class _PolicyEntry:
    """The access-policy entry one change edits: whose, on which vault, through which client."""

    change: Change
    client: KeyVaultManagementClient
    vault: VaultId
    tenant: str
    object_id: str
    application_id: str | None  # a compound identity's application (client) id

    @property
    def who(self) -> str:
        return (
            f"{self.object_id} via application {self.application_id}"
            if self.application_id
            else self.object_id
        )


def _union(*policies: AccessPolicy) -> AccessPolicy:
    lists = {kind: tuple(sorted({n for p in policies for n in getattr(p, kind)})) for kind in _POLICY_LISTS}
    return policies[0].model_copy(update=lists)


def _difference(a: AccessPolicy, b: AccessPolicy | None) -> AccessPolicy:
    """a's permissions that b lacks."""
    lists = {
        kind: tuple(sorted(set(getattr(a, kind)) - set(getattr(b, kind) if b else ())))
        for kind in _POLICY_LISTS
    }
    return a.model_copy(update=lists)


def _any(policy: AccessPolicy) -> bool:
    return any(getattr(policy, kind) for kind in _POLICY_LISTS)
