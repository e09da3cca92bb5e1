"""What the live backend's resource planes share: the clients they call through and `ResourceReading`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.errors import Attempt
from hsmsync.backends.azure.ids import ManagedHsmId, parse_managed_hsm_id
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import Change
from hsmsync.core.state import ArmRoleDefinition, DiagnosticSetting, HsmSettings, VaultState

if TYPE_CHECKING:
    from azure.mgmt.keyvault import KeyVaultManagementClient
    from azure.mgmt.monitor.v2021_05_01_preview import MonitorManagementClient

T = TypeVar("T")


@dataclass
class ResourceReading:
    """What `ResourcePlane.read` found, to be merged into the LiveState."""

    settings: dict[str, HsmSettings] = field(default_factory=dict)  # by HSM name
    diagnostics: dict[str, tuple[DiagnosticSetting, ...]] = field(default_factory=dict)
    initial_admins: dict[str, tuple[str, ...]] = field(default_factory=dict)  # read with the settings
    urls: dict[str, str] = field(default_factory=dict)  # the HSM's hsmUri, as its resource says
    vaults: dict[str, VaultState] = field(default_factory=dict)
    arm_roles: tuple[ArmRoleDefinition, ...] = ()


class ResourceClients:
    """The SDK clients, error translation and attempt descriptions every resource kind uses."""

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients

    def _keyvault(self, subscription_id: str) -> KeyVaultManagementClient:
        return self.clients.keyvault_management(subscription_id)

    def _monitor(self, subscription_id: str) -> MonitorManagementClient:
        from azure.mgmt.monitor.v2021_05_01_preview import MonitorManagementClient

        def build() -> MonitorManagementClient:
            # The factory's ARM kwargs: TLS trust, retries, the ARM pacing bucket, the base URL.
            return MonitorManagementClient(
                self.clients.credential,
                subscription_id,
                **self.clients._arm_kwargs(),  # noqa: SLF001 - the one factory, not duplicated
            )

        client: MonitorManagementClient = self.clients._cached("monitor", subscription_id.lower(), build)  # noqa: SLF001
        return client

    def _attempt(self, verb: str, change: Change) -> Attempt:
        return Attempt(
            verb,
            "management",
            change.target.key,
            change.scope,
            url=self.clients.arm_url,
            principal_id=change.principal_id,
        )

    def _hsm_id(self, change: Change) -> ManagedHsmId:
        parsed = parse_managed_hsm_id(change.scope)
        if parsed is None:
            raise BackendError(f"change {change.id}: '{change.scope}' is not a Managed HSM resource id")
        return parsed
