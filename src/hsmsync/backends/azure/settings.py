"""Per-environment settings for the Azure SDK clients: the same code serves Azure and the emulator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hsmsync.backends.azure.hosts import HostRule

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """azure-core RetryPolicy knobs (retries 408/429/500/502/503/504, honours Retry-After)."""

    total: int = 10
    backoff_factor: float = 0.8
    backoff_max: float = 120.0
    status: int = 5  # azure-core's default is 3; RBAC writes are throttled at 5/s per HSM

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "retry_total": self.total,
            "retry_backoff_factor": self.backoff_factor,
            "retry_backoff_max": self.backoff_max,
            "retry_status": self.status,
        }


@dataclass(frozen=True, slots=True)
class TimeoutSettings:
    """Deadlines for every call, so a silent endpoint cannot stall a run.

    connect: seconds to open the connection (TCP and TLS handshake). read: seconds to wait for
    the answer once the request is sent. total: seconds for one call including its retries
    (azure-core's retry `timeout`); the last attempt may still take up to `read` more.
    """

    connect: float = 10.0
    read: float = 30.0
    total: float = 300.0

    def client_kwargs(self) -> dict[str, Any]:
        """Transport kwargs of an azure-core client (and of azure-identity credentials)."""
        return {"connection_timeout": self.connect, "read_timeout": self.read}


@dataclass(frozen=True, slots=True)
class PacingSettings:
    """Client-side rate limits and parallelism (see `pacing.py`).

    hsm_rate: RBAC calls per second per HSM (the service allows about 5), shared by discovery
        and apply. arm_rate: ARM calls per second for the whole run.
    workers: HSMs, vaults and ARM scopes discovered and applied at once. Every HSM has its own
        bucket, so the service's floor needs every HSM of the run at once: the default covers
        any fleet one job should hold (see README, "Choosing the shard size"); 32 ran a 50-HSM
        fleet in two waves, at twice the floor.
    key_workers: key scopes of one HSM listed at once (the HSM's rate still bounds them; this only
        hides network latency).
    """

    hsm_rate: float = 5.0
    arm_rate: float = 10.0
    workers: int = 256
    key_workers: int = 3


@dataclass(frozen=True, slots=True)
class AzureSettings:
    """Where the services are and how to talk to them.

    credential: None means `SignIn` (signin.py) with `auth`, `environ` and `authority`, created
        (and azure.identity imported) on first use. Tests may pass any TokenCredential.
    auth: the sign-in method (`--auth` / HSMSYNC_AUTH; see signin.py).
    environ: the environment the sign-in methods read (AZURE_CLIENT_ID, ...).
    authority: the token service to sign in at (the emulator's, from an endpoints file); None:
        AZURE_AUTHORITY_HOST or public Azure.
    hsm_urls: data-plane URL overrides by the manifest's HSM name (the emulator's ports).
    arm_base_url: ARM endpoint override (None = public Azure, https://management.azure.com).
    connection_verify: True, or a CA bundle path. Always passed to the clients explicitly, so an
        exported REQUESTS_CA_BUNDLE cannot replace a path (an endpoints file's CA); with True it
        applies, as in requests (a proxy that inspects TLS, say).
    verify_challenge_resource: the Key Vault SDK's check that a 401 challenge names a resource of
        the host it came from. False only against the emulator (its tokens go to loopback only).
    hosts: where the credential's tokens may go (see `hosts.py`); checked on every request.
    hsm_urls_only: an endpoints file is in use: an HSM it does not name is an error, never a
        fallback to the manifest's (public) URL.
    source: where the URLs come from, for messages (the endpoints file's path, or "").
    timeouts: connect / read / total deadlines of every call.
    pacing: client-side rate limits per HSM and for ARM, and how many things run at once.
    principal_wait_seconds: how long an ARM create retries `PrincipalNotFound` (new principals take
        minutes to replicate) before reporting it.
    label: how describe() names the environment.
    graph_url: where the applier's group memberships are looked up when its token has no
        `groups` claim (the emulator's Graph, from the endpoints file).
    """

    credential: TokenCredential | None = None
    auth: str = "auto"
    environ: Mapping[str, str] = field(default_factory=dict)
    authority: str | None = None
    hsm_urls: Mapping[str, str] = field(default_factory=dict)
    arm_base_url: str | None = None
    connection_verify: bool | str = True
    verify_challenge_resource: bool = True
    hosts: HostRule = field(default_factory=HostRule)
    hsm_urls_only: bool = False
    source: str = ""
    timeouts: TimeoutSettings = field(default_factory=TimeoutSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    principal_wait_seconds: float = 300.0
    principal_wait_interval: float = 5.0
    label: str = "Azure SDK"
    graph_url: str | None = None  # Microsoft Graph (None = https://graph.microsoft.com)
    pacing: PacingSettings = field(default_factory=lambda: PacingSettings())
