"""SDK exceptions -> BackendError: what was attempted, and what the service said.

Messages carry the plane, target, scope, role id and principal of the attempt and the service's
error code and message. Anything shaped like a bearer token or a JWT is redacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from hsmsync.backends.azure.pacing import NoAnswerError
from hsmsync.core.errors import BackendError, Denied

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s,\"']+")
_SECRET_PARAM = re.compile(r"(?i)((?:client_secret|access_token|refresh_token|assertion)=)[^&\s]+")
_DATA_ACTION = re.compile(r"Microsoft\.KeyVault/managedHsm/[A-Za-z0-9/]+", re.IGNORECASE)
_ARM_ACTION = re.compile(r"perform action '([^']+)'")
_ACTIVITY = re.compile(r"\s*\(Activity ID: [^)]*\)")

# Codes an SDK call can report that hsmsync treats specially.
ASSIGNMENT_EXISTS_CODES = frozenset({"roleassignmentexists", "matchingroleassignmentexists"})
PRINCIPAL_NOT_FOUND = "principalnotfound"


def redact(text: str) -> str:
    """Remove anything that could be a credential from text meant for users or logs."""
    text = _JWT.sub("<redacted>", text)
    text = _BEARER.sub(r"\1<redacted>", text)
    return _SECRET_PARAM.sub(r"\1<redacted>", text)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One SDK call, described for error messages."""

    verb: str  # e.g. "create role assignment 1b2c..."
    plane: str  # "data" | "management"
    target: str  # HSM name, or "arm"
    scope: str
    url: str = ""
    role_id: str | None = None
    principal_id: str | None = None

    def describe(self) -> str:
        where = f"HSM '{self.target}'" if self.plane == "data" else "ARM"
        parts = [f"{self.plane} plane, {where}, scope '{self.scope}'"]
        if self.role_id:
            parts.append(f"role {self.role_id}")
        if self.principal_id:
            parts.append(f"principal {self.principal_id}")
        return f"{self.verb} ({', '.join(parts)})"


def service_error(exc: HttpResponseError) -> tuple[str | None, str]:
    """(code, message) as the service put them in its error body; falls back to the exception text."""
    err = exc.error
    code = getattr(err, "code", None) if err is not None else None
    message = getattr(err, "message", None) if err is not None else None
    if not message:
        message = exc.message if isinstance(exc.message, str) else str(exc.message)
    return (str(code) if code else None), redact(str(message))


def error_code(exc: BaseException) -> str:
    """The service error code, lower-cased ('' when there is none)."""
    if isinstance(exc, HttpResponseError):
        code, _ = service_error(exc)
        return (code or "").lower()
    return ""


def missing_permission(code: str | None, message: str, plane: str) -> str | None:
    """The action a 403 says the caller lacks, if the service message names it."""
    if plane == "data":
        found = _DATA_ACTION.search(message)
        return found.group(0) if found else None
    found_arm = _ARM_ACTION.search(message)
    return found_arm.group(1) if found_arm else None


def to_backend_error(exc: AzureError, attempt: Attempt) -> BackendError:
    """A BackendError for a failed SDK call (never includes a token)."""
    what = attempt.describe()
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = int(exc.status_code)
        code, message = service_error(exc)
        if status == 403:
            action = missing_permission(code, message, attempt.plane)
            need = f"it needs '{action}'" if action else "it lacks the permission for this call"
            scope_hint = " on the HSM" if attempt.plane == "data" else ""
            return BackendError(
                f"permission denied: {what}: the identity hsmsync runs as is not authorized; "
                f"{need}{scope_hint}. Service said: {code or status}: {_ACTIVITY.sub('', message)}",
                code=code,
                status=status,
                denied=Denied(action, attempt.target, attempt.scope) if action else None,
            )
        if status == 429:
            return BackendError(
                f"{what} failed: HTTP 429 {code or 'TooManyRequests'}: {_ACTIVITY.sub('', message)}. "
                f"{another_writer(attempt)}",
                code=code,
                status=status,
            )
        if status == 401:
            return BackendError(
                f"authentication rejected: {what}: {code or 'Unauthorized'}: {message}",
                code=code,
                status=status,
            )
        return BackendError(
            f"{what} failed: HTTP {status} {code or ''}: {message}".replace("  ", " "),
            code=code,
            status=status,
        )
    if isinstance(exc, ClientAuthenticationError):
        return BackendError(f"could not get an access token for {what}: {redact(_text(exc))}")
    if isinstance(exc, NoAnswerError):  # already names the host and the deadline
        return BackendError(f"{what}: {_text(exc)}")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        where = f" at {attempt.url}" if attempt.url else ""
        return BackendError(f"{what}: cannot reach the service{where}: {redact(_text(exc))}")
    return BackendError(f"{what} failed: {redact(_text(exc))}")


def another_writer(attempt: Attempt) -> str:
    """Why a 429 outlasted the retries: hsmsync paces itself below the service's limit, so the
    budget it ran out of was spent by someone else at the same time."""
    if attempt.plane == "data":
        return (
            f"The HSM kept throttling although hsmsync paces its calls below the HSM's limit: another "
            f"writer is changing HSM '{attempt.target}' at the same time; re-run after it finishes "
            "(serialise pipeline runs: see README, 'Running two applies at once')"
        )
    return (
        "ARM kept throttling although hsmsync paces its calls: another writer is using the same "
        "identity's ARM budget at the same time; re-run after it finishes "
        "(serialise pipeline runs: see README, 'Running two applies at once')"
    )


def _text(exc: AzureError) -> str:
    message = exc.message if isinstance(exc.message, str) else str(exc)
    return message.splitlines()[0] if message else type(exc).__name__
