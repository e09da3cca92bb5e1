"""The one place SDK clients are built: every client gets the same settings-derived kwargs."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from hsmsync.backends.azure.credentials import sign_in_for
from hsmsync.backends.azure.hosts import HostGuardPolicy
from hsmsync.backends.azure.pacing import DeadlinePolicy, JitteredRetryPolicy, Pacer
from hsmsync.backends.azure.regions import RegionLog
from hsmsync.backends.azure.settings import AzureSettings
from hsmsync.backends.azure.transport import requests_transport
from hsmsync.core.errors import StateError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.keyvault.administration import KeyVaultAccessControlClient, KeyVaultSettingsClient
    from azure.keyvault.keys import KeyClient
    from azure.mgmt.authorization.v2022_04_01 import AuthorizationManagementClient
    from azure.mgmt.keyvault import KeyVaultManagementClient

PUBLIC_ARM_URL = "https://management.azure.com"
# Any GUID works as the subscription of a client used only for management-group scopes.
_NO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


class ClientFactory:
    """Builds and caches SDK clients (one per HSM URL / subscription) from `AzureSettings`."""

    def __init__(self, settings: AzureSettings) -> None:
        self.settings = settings
        self._credential: TokenCredential | None = settings.credential
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.pacer = Pacer(settings.pacing.hsm_rate, settings.pacing.arm_rate)
        self.regions = RegionLog()  # which regions of each HSM answered (apply's read-back)

    @property
    def credential(self) -> TokenCredential:
        if self._credential is None:
            self._credential = sign_in_for(self.settings)
        return self._credential

    @property
    def credential_if_built(self) -> TokenCredential | None:
        """The credential, without signing in or building it (for describing the run)."""
        return self._credential

    def common_kwargs(self, *, arm: bool = False) -> dict[str, Any]:
        """azure-core kwargs shared by every client: its own transport (TLS trust, deadlines; see
        transport.py), jittered retries, pacing, and the host check (per retry: it sees every
        attempt and redirect)."""
        retry = self.settings.retry.client_kwargs()
        timeouts = self.settings.timeouts
        return {
            "transport": requests_transport(
                connection_verify=self.settings.connection_verify, **timeouts.client_kwargs()
            ),
            **retry,
            "retry_policy": JitteredRetryPolicy(timeout=timeouts.total, **retry),
            "per_call_policies": [DeadlinePolicy(timeouts)],
            "per_retry_policies": [self.pacer.policy(arm=arm), HostGuardPolicy(self.settings.hosts)],
        }

    @property
    def arm_url(self) -> str:
        """Where ARM calls go (error messages name it)."""
        return self.settings.arm_base_url or PUBLIC_ARM_URL

    def hsm_url(self, name: str, url: str | None) -> str | None:
        """The data-plane URL of an HSM: the endpoints file's, else (without one) the manifest's.

        With an endpoints file an HSM it does not name is an error: falling back to the
        manifest's URL would send this run's token to public Azure."""
        override = self.settings.hsm_urls.get(name)
        if override or not self.settings.hsm_urls_only:
            return override or url
        raise StateError(
            f"{self.settings.source}: endpoints field 'hsms': HSM '{name}' of the manifest is missing; "
            "an endpoints file must name every HSM (hsmsync never falls back to the manifest's URL)"
        )

    def _cached(self, kind: str, key: str, build: Any) -> Any:
        with self._lock:
            client = self._cache.get((kind, key))
            if client is None:
                client = build()
                self._cache[(kind, key)] = client
            return client

    def _hsm_kwargs(self) -> dict[str, Any]:
        """An HSM client's kwargs: the common ones, and the policy noting which region answered."""
        kwargs = self.common_kwargs()
        kwargs["per_retry_policies"] = [*kwargs["per_retry_policies"], self.regions.policy()]
        return kwargs

    def access_control(self, url: str) -> KeyVaultAccessControlClient:
        from azure.keyvault.administration import KeyVaultAccessControlClient

        def build() -> KeyVaultAccessControlClient:
            return KeyVaultAccessControlClient(
                url,
                self.credential,
                verify_challenge_resource=self.settings.verify_challenge_resource,
                **self._hsm_kwargs(),
            )

        client: KeyVaultAccessControlClient = self._cached("access_control", url, build)
        return client

    def keys(self, url: str) -> KeyClient:
        from azure.keyvault.keys import KeyClient

        def build() -> KeyClient:
            return KeyClient(
                url,
                self.credential,
                verify_challenge_resource=self.settings.verify_challenge_resource,
                **self._hsm_kwargs(),
            )

        client: KeyClient = self._cached("keys", url, build)
        return client

    def hsm_settings(self, url: str) -> KeyVaultSettingsClient:
        from azure.keyvault.administration import KeyVaultSettingsClient

        def build() -> KeyVaultSettingsClient:
            return KeyVaultSettingsClient(
                url,
                self.credential,
                verify_challenge_resource=self.settings.verify_challenge_resource,
                **self.common_kwargs(),
            )

        client: KeyVaultSettingsClient = self._cached("hsm_settings", url, build)
        return client

    def _arm_kwargs(self) -> dict[str, Any]:
        kwargs = self.common_kwargs(arm=True)
        if self.settings.arm_base_url:
            kwargs["base_url"] = self.settings.arm_base_url
        return kwargs

    def authorization(self, subscription_id: str | None) -> AuthorizationManagementClient:
        """RBAC client for one subscription (None: a management-group scope; any client works)."""
        from azure.mgmt.authorization.v2022_04_01 import AuthorizationManagementClient

        sub = subscription_id or _NO_SUBSCRIPTION

        def build() -> AuthorizationManagementClient:
            return AuthorizationManagementClient(self.credential, sub, **self._arm_kwargs())

        client: AuthorizationManagementClient = self._cached("authorization", sub.lower(), build)
        return client

    def keyvault_management(self, subscription_id: str) -> KeyVaultManagementClient:
        from azure.mgmt.keyvault import KeyVaultManagementClient

        def build() -> KeyVaultManagementClient:
            return KeyVaultManagementClient(self.credential, subscription_id, **self._arm_kwargs())

        client: KeyVaultManagementClient = self._cached("keyvault", subscription_id.lower(), build)
        return client

    def close(self) -> None:
        with self._lock:
            clients = list(self._cache.values())
            self._cache.clear()
        for client in clients:
            client.close()
        close = getattr(self._credential, "close", None)
        if self.settings.credential is None and callable(close):
            close()
