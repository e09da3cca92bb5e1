"""The sign-in methods `--auth` / HSMSYNC_AUTH accept (here, so the CLI need not import Azure)."""

from __future__ import annotations

from collections.abc import Mapping

from hsmsync.core.errors import HsmsyncError

AUTH_METHODS = (
    "auto",
    "github",
    "azure-pipelines",
    "workload-identity",
    "managed-identity",
    "client-secret",
    "azure-cli",
)
ENV_AUTH = "HSMSYNC_AUTH"


def auth_method(cli_value: str | None, environ: Mapping[str, str]) -> str:
    """`--auth`, else HSMSYNC_AUTH, else auto; an unknown HSMSYNC_AUTH is an error."""
    value = cli_value or environ.get(ENV_AUTH, "").strip() or "auto"
    if value not in AUTH_METHODS:
        raise HsmsyncError(
            f"environment variable {ENV_AUTH}={value!r} must be one of {', '.join(AUTH_METHODS)}"
        )
    return value
