"""ARM resources beyond RBAC, through the official SDKs: Managed HSM settings
(`KeyVaultManagementClient.managed_hsms`), audit logging (`MonitorManagementClient.diagnostic_settings`),
Key Vault access policies (`vaults.get` / `vaults.update_access_policy`) and custom Azure roles
(`AuthorizationManagementClient.role_definitions`).

Every apply reads the resource first, so repeating a change answers ALREADY_DONE, and sends only
what must change: the differing HSM properties; per principal, `add` for missing permissions then
`remove` for extra ones (never `replace`, which would rewrite every other principal's entry).

This module reads everything at once and dispatches applies; each resource kind lives in its own
module (`resources_hsm`, `resources_vaults`, `resources_roles`) and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.ids import parse_managed_hsm_id
from hsmsync.backends.azure.resources_common import ResourceReading, T
from hsmsync.backends.azure.resources_hsm import HsmResources, diagnostic_from_sdk, settings_from_sdk
from hsmsync.backends.azure.resources_roles import RoleResources, arm_role_from_sdk, definition_scope
from hsmsync.backends.azure.resources_vaults import VaultId, VaultResources, parse_vault_id, policy_from_sdk
from hsmsync.backends.base import Outcome, ReadRequest
from hsmsync.core.plan import Change, Kind, Plane
from hsmsync.core.state import ArmRoleDefinition

__all__ = [
    "ResourcePlane",
    "ResourceReading",
    "T",
    "VaultId",
    "arm_role_from_sdk",
    "definition_scope",
    "diagnostic_from_sdk",
    "parse_vault_id",
    "policy_from_sdk",
    "settings_from_sdk",
]

_READERS = 8  # resources read at once; the ARM pacing bucket bounds the rate


class ResourcePlane(HsmResources, VaultResources, RoleResources):
    """Reads and applies HSM settings, diagnostic settings, vault access policies, custom Azure roles."""

    def __init__(self, clients: ClientFactory) -> None:
        super().__init__(clients)

    def read(self, request: ReadRequest) -> ResourceReading:
        """Settings and diagnostic settings of every HSM with a Managed HSM resource id, every
        vault of the request, and the custom Azure roles at the request's ARM scopes."""
        out = ResourceReading()
        hsms = [(ref, parsed) for ref in request.hsms if (parsed := parse_managed_hsm_id(ref.resource_id))]
        scopes = _unique([*request.arm_scopes, *request.arm_role_scopes])
        jobs: list[Callable[[], None]] = []
        for ref, parsed in hsms:
            jobs.append(lambda ref=ref, parsed=parsed: self._read_hsm(ref, parsed, out))  # type: ignore[misc]
        for vault in request.vaults:
            jobs.append(lambda vault=vault: self._read_vault(vault, out))  # type: ignore[misc]
        roles: dict[str, ArmRoleDefinition] = {}
        if scopes:
            jobs.append(lambda: roles.update(self._read_arm_roles(scopes)))
        if not jobs:
            return out
        pool = ThreadPoolExecutor(max(1, min(_READERS, len(jobs))), thread_name_prefix="hsmsync-resources")
        try:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        out.arm_roles = tuple(sorted(roles.values(), key=lambda r: r.name))
        return out

    @staticmethod
    def handles(change: Change) -> bool:
        if change.kind in (Kind.SETTING, Kind.DIAGNOSTIC_SETTING, Kind.ACCESS_POLICY):
            return True
        return change.kind is Kind.ROLE_DEFINITION and change.plane is Plane.MANAGEMENT

    def apply(self, change: Change) -> Outcome:
        if change.kind is Kind.SETTING:
            return self._apply_setting(change)
        if change.kind is Kind.DIAGNOSTIC_SETTING:
            return self._apply_diagnostic(change)
        if change.kind is Kind.ACCESS_POLICY:
            return self._apply_access_policy(change)
        return self._apply_arm_role(change)


def _unique(scopes: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for s in scopes:
        seen.setdefault(s.rstrip("/").lower(), s)
    return list(seen.values())
