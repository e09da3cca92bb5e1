"""`make_azure_backend`: what `--live [--endpoints FILE]` builds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from hsmsync.backends.auth_methods import auth_method
from hsmsync.backends.azure.backend import AzureBackend
from hsmsync.backends.azure.endpoints import settings_from_endpoints
from hsmsync.backends.azure.hosts import HostRule
from hsmsync.backends.azure.settings import AzureSettings, PacingSettings, RetrySettings, TimeoutSettings
from hsmsync.backends.base import DiscoveryReporter
from hsmsync.core.errors import HsmsyncError

# Optional tuning; sign-in reads its own variables (signin.py).
ENV_RETRY_TOTAL = "HSMSYNC_RETRY_TOTAL"
ENV_RETRY_BACKOFF = "HSMSYNC_RETRY_BACKOFF"
ENV_PRINCIPAL_WAIT = "HSMSYNC_PRINCIPAL_WAIT_SECONDS"
ENV_HSM_RATE = "HSMSYNC_HSM_RATE"
ENV_ARM_RATE = "HSMSYNC_ARM_RATE"
ENV_WORKERS = "HSMSYNC_WORKERS"
ENV_CONNECT_TIMEOUT = "HSMSYNC_CONNECT_TIMEOUT"
ENV_READ_TIMEOUT = "HSMSYNC_READ_TIMEOUT"
ENV_CALL_TIMEOUT = "HSMSYNC_CALL_TIMEOUT"


def _number(environ: Mapping[str, str], name: str, *, integer: bool) -> float | None:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise HsmsyncError(f"environment variable {name}={raw!r} must be {kind}") from None
    if value < 0:
        raise HsmsyncError(f"environment variable {name}={raw!r} must not be negative")
    return value


def retry_from_environ(environ: Mapping[str, str]) -> RetrySettings:
    default = RetrySettings()
    total = _number(environ, ENV_RETRY_TOTAL, integer=True)
    backoff = _number(environ, ENV_RETRY_BACKOFF, integer=False)
    return RetrySettings(
        total=int(total) if total is not None else default.total,
        backoff_factor=backoff if backoff is not None else default.backoff_factor,
        backoff_max=default.backoff_max,
        status=int(total) if total is not None else default.status,
    )


def timeouts_from_environ(environ: Mapping[str, str]) -> TimeoutSettings:
    default = TimeoutSettings()
    values = []
    for name, fallback in (
        (ENV_CONNECT_TIMEOUT, default.connect),
        (ENV_READ_TIMEOUT, default.read),
        (ENV_CALL_TIMEOUT, default.total),
    ):
        value = _number(environ, name, integer=False)
        if value is not None and value <= 0:
            raise HsmsyncError(f"environment variable {name}={environ[name]!r} must be positive")
        values.append(fallback if value is None else value)
    return TimeoutSettings(connect=values[0], read=values[1], total=values[2])


def pacing_from_environ(environ: Mapping[str, str]) -> PacingSettings:
    default = PacingSettings()
    hsm_rate = _number(environ, ENV_HSM_RATE, integer=False)
    arm_rate = _number(environ, ENV_ARM_RATE, integer=False)
    workers = _number(environ, ENV_WORKERS, integer=True)
    for name, value in ((ENV_HSM_RATE, hsm_rate), (ENV_ARM_RATE, arm_rate), (ENV_WORKERS, workers)):
        if value is not None and value <= 0:
            raise HsmsyncError(f"environment variable {name}={environ[name]!r} must be positive")
    return PacingSettings(
        hsm_rate=hsm_rate or default.hsm_rate,
        arm_rate=arm_rate or default.arm_rate,
        workers=int(workers or default.workers),
        key_workers=default.key_workers,
    )


def make_azure_backend(
    *,
    endpoints: Path | None,
    environ: Mapping[str, str],
    allow_hosts: Iterable[str] = (),
    auth: str | None = None,
    progress: DiscoveryReporter | None = None,
) -> AzureBackend:
    """The live backend: real Azure or, with an endpoints file, the services that file names (e.g.
    the local emulator). Signs in with `auth` (`--auth`; None: HSMSYNC_AUTH, else auto).

    allow_hosts: hosts (from `--allow-host`) that may receive real tokens besides the known Azure
    clouds' hosts. progress: told how discovery advances."""
    method = auth_method(auth, environ)
    retry = retry_from_environ(environ)
    wait = _number(environ, ENV_PRINCIPAL_WAIT, integer=False)
    pacing, timeouts = pacing_from_environ(environ), timeouts_from_environ(environ)
    if endpoints is not None:
        settings = settings_from_endpoints(
            endpoints,
            retry=retry,
            principal_wait_seconds=wait,
            allow_hosts=allow_hosts,
            auth=method,
            environ=environ,
        )
        return AzureBackend(replace(settings, pacing=pacing, timeouts=timeouts), progress=progress)
    settings = AzureSettings(
        retry=retry,
        hosts=HostRule.for_real_credentials(allow_hosts),
        pacing=pacing,
        timeouts=timeouts,
        auth=method,
        environ=dict(environ),
    )
    if wait is not None:
        settings = replace(settings, principal_wait_seconds=wait)
    return AzureBackend(settings, progress=progress)
