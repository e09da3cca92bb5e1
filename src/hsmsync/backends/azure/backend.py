"""AzureBackend: the live `StateBackend`, reading and writing through the official Azure SDKs."""

from __future__ import annotations

import time
from collections.abc import Callable

from hsmsync.backends.azure.caller import ARM_SCOPE, caller_from_token
from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.dataplane import DataPlane, Discovery
from hsmsync.backends.azure.management import ManagementPlane
from hsmsync.backends.azure.settings import AzureSettings
from hsmsync.backends.base import Outcome, ReadRequest
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.guard import Caller
from hsmsync.core.plan import Change, Plane
from hsmsync.core.state import ArmState, HsmState, LiveState

# In `ReadRequest.full_discovery`, this name asks for every principal's ARM assignments at the
# manifest's ARM scopes (management prune); otherwise only the manifest's principals are read.
ARM = "arm"
_UNKNOWN = object()


class AzureBackend:
    """Live Managed HSM local RBAC (data plane) and Azure RBAC (management plane).

    `read_state` must run before `apply_change` for data-plane changes unless the settings give
    the HSM's URL: the plan names HSMs, and the URLs come from the read request.
    """

    def __init__(
        self,
        settings: AzureSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clients = ClientFactory(settings)
        self.data = DataPlane(self.clients)
        self.management = ManagementPlane(self.clients, sleep=sleep, clock=clock)
        self._urls: dict[str, str] = {}
        self._discoveries: list[Discovery] = []
        self._notes: list[str] = []
        self._caller: Caller | None | object = _UNKNOWN

    def describe(self) -> str:
        """`live (Azure SDK): contoso: full discovery (3 keys)`; per-HSM details after read_state."""
        head = f"live ({self.settings.label})"
        details = [d.describe() for d in self._discoveries] + self._notes
        return f"{head}: {'; '.join(details)}" if details else head

    def read_state(self, request: ReadRequest) -> LiveState:
        discoveries: list[Discovery] = []
        notes: list[str] = []
        hsms: dict[str, HsmState] = {}
        for ref in request.hsms:
            url = self.clients.hsm_url(ref.name, ref.url)
            if not url:
                raise StateError(f"HSM '{ref.name}': no URL in the manifest or the endpoints file")
            self._urls[ref.name] = url
            full = ref.name in request.full_discovery
            state, discovery = self.data.read_hsm(
                ref.name,
                url,
                full=full,
                principal_ids=request.principal_ids,
                key_names=request.key_scopes.get(ref.name, ()),
            )
            admins: tuple[str, ...] = ()
            if full:
                # Pruning must know who the initial administrators are, or it would remove them.
                found = self.management.initial_admins(ref.resource_id) if ref.resource_id else None
                if found is None:
                    notes.append(f"{ref.name}: initial administrators unknown (no Managed HSM resource id)")
                admins = found or ()
            hsms[ref.name] = state.model_copy(
                update={
                    "url": ref.url or url,
                    "resource_id": ref.resource_id,
                    "initial_admin_object_ids": admins,
                }
            )
            discoveries.append(discovery)
        arm = ArmState(
            role_assignments=self.management.read(
                request.arm_scopes, request.principal_ids, all_principals=ARM in request.full_discovery
            )
        )
        self._discoveries, self._notes = discoveries, notes
        return LiveState(hsms=hsms, arm=arm)

    def caller(self) -> Caller | None:
        """The applying identity, from the credential's token (None when it cannot be told)."""
        if self._caller is _UNKNOWN:
            try:
                token = self.clients.credential.get_token(ARM_SCOPE).token
            except Exception:  # noqa: BLE001 - any credential failure just means "unknown caller"
                self._caller = None
            else:
                self._caller = caller_from_token(token)
        return self._caller if isinstance(self._caller, Caller) else None

    def apply_change(self, change: Change) -> Outcome:
        if change.plane is Plane.MANAGEMENT:
            return self.management.apply(change)
        url = self.clients.hsm_url(change.target, self._urls.get(change.target))
        if not url:
            raise BackendError(
                f"change {change.id}: HSM '{change.target}' has no known URL (read live state first, "
                "or give it in the endpoints file)"
            )
        return self.data.apply(change, url)

    def close(self) -> None:
        self.clients.close()

    def __enter__(self) -> AzureBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
