"""Per-environment settings for the Azure SDK clients: the same code serves Azure and the emulator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
class PacingSettings:
    """Client-side rate limits and parallelism (see `pacing.py`).

    hsm_rate: RBAC calls per second per HSM (the service allows about 5), shared by discovery
        and apply. arm_rate: ARM calls per second for the whole run.
    workers: HSMs, vaults and ARM scopes discovered and applied at once.
    key_workers: key scopes of one HSM listed at once (the HSM's rate still bounds them; this only
        hides network latency).
    """

    hsm_rate: float = 5.0
    arm_rate: float = 10.0
    workers: int = 32
    key_workers: int = 3


@dataclass(frozen=True, slots=True)
class AzureSettings:
    """Where the services are and how to talk to them.

    credential: None means `DefaultAzureCredential`, created (and imported) on first use.
    hsm_urls: data-plane URL overrides by the manifest's HSM name (the emulator's ports).
    arm_base_url: ARM endpoint override (None = public Azure, https://management.azure.com).
    connection_verify: True, or a CA bundle path. Always passed to the clients explicitly, so an
        exported REQUESTS_CA_BUNDLE cannot silently replace it.
    verify_challenge_resource: False only for hosts that are not `*.managedhsm.azure.net`.
    pacing: client-side rate limits per HSM and for ARM, and how many things run at once.
    principal_wait_seconds: how long an ARM create retries `PrincipalNotFound` (new principals take
        minutes to replicate) before reporting it.
    label: how describe() names the environment.
    """

    credential: TokenCredential | None = None
    hsm_urls: Mapping[str, str] = field(default_factory=dict)
    arm_base_url: str | None = None
    connection_verify: bool | str = True
    verify_challenge_resource: bool = True
    retry: RetrySettings = field(default_factory=RetrySettings)
    principal_wait_seconds: float = 300.0
    principal_wait_interval: float = 5.0
    label: str = "Azure SDK"
    pacing: PacingSettings = field(default_factory=lambda: PacingSettings())
