"""The live backend: Managed HSM local RBAC and Azure RBAC through the official Azure SDKs.

Public surface (everything else in this package is internal):

- `make_azure_backend(*, endpoints: Path | None, environ: Mapping[str, str], allow_hosts=(),
  auth=None)`: what the CLI builds for `--live [--endpoints FILE] [--allow-host HOST] [--auth M]`.
  It signs in with `signin.SignIn` (GitHub Actions / Azure Pipelines OIDC, workload identity,
  client secret, managed identity, `az login`; azure.identity imported only on first use) at
  public Azure, or at the endpoints file's `authority` (the emulator's token service).
  Optional tuning: HSMSYNC_RETRY_TOTAL, HSMSYNC_RETRY_BACKOFF, HSMSYNC_PRINCIPAL_WAIT_SECONDS,
  HSMSYNC_CONNECT_TIMEOUT, HSMSYNC_READ_TIMEOUT, HSMSYNC_CALL_TIMEOUT. Tokens go only where
  `hosts.py` allows (checked on every request).
- `AzureBackend(settings)`: a `StateBackend`. `read_state(request)` picks a discovery mode per
  HSM (FULL when `request.full_discovery` names it, i.e. it prunes; otherwise PRINCIPALS, or FULL
  when that is fewer list calls); `describe()` then names the modes. `apply_change(change)` returns
  DONE or ALREADY_DONE and raises `BackendError` saying what was attempted and what the service
  said. `close()` / context manager releases the HTTP sessions.
- `AzureSettings`, `RetrySettings`: per-environment client settings (credential, URL overrides,
  `connection_verify`, `verify_challenge_resource`, retries, PrincipalNotFound wait).
- `settings_from_endpoints(path)`: AzureSettings from an endpoints file (see `endpoints.py`).
"""

from __future__ import annotations

from hsmsync.backends.azure.backend import AzureBackend
from hsmsync.backends.azure.endpoints import settings_from_endpoints
from hsmsync.backends.azure.factory import make_azure_backend
from hsmsync.backends.azure.settings import AzureSettings, RetrySettings

__all__ = ["AzureBackend", "AzureSettings", "RetrySettings", "make_azure_backend", "settings_from_endpoints"]
