"""SDK exceptions -> BackendError: what was attempted, and what the service said.

Messages carry the plane, target, scope, role id and principal of the attempt and the service's
error code and message. Anything shaped like a bearer token or a JWT is redacted.

A reply of the wrong shape (HTML from a proxy, JSON missing fields, a challenge for another
service) surfaces from the SDK as a ValueError (its DeserializationError, json's decode error,
the challenge policy's resource check), a KeyError, TypeError or AttributeError: `call_sdk` and
`unexpected_reply` turn those into a BackendError naming the host and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar
from urllib.parse import urlsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from hsmsync.backends.azure.pacing import NoAnswerError
from hsmsync.core.errors import BackendError, Denied
from hsmsync.core.target import ARM, Target

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s,\"']+")
_SECRET_PARAM = re.compile(r"(?i)((?:client_secret|access_token|refresh_token|assertion)=)[^&\s]+")
_DATA_ACTION = re.compile(r"Microsoft\.KeyVault/managedHsm/[A-Za-z0-9/]+", re.IGNORECASE)
_ARM_ACTION = re.compile(r"perform action '([^']+)'")
_ACTIVITY = re.compile(r"\s*\(Activity ID: [^)]*\)")
_ACTIVITY_ID = re.compile(r"Activity ID: ([A-Za-z0-9-]{1,64})\)")
_ID_VALUE = re.compile(r"[A-Za-z0-9-]{1,64}")  # ids are GUID-like: anything else is not shown
# Response headers Azure support asks for, and how an error message names them.
_ID_HEADERS = (
    ("x-ms-request-id", "request id"),
    ("x-ms-client-request-id", "client request id"),
    ("x-ms-correlation-request-id", "correlation id"),
)

T = TypeVar("T")

# What the SDK raises for a reply it cannot make sense of (DeserializationError, json's
# JSONDecodeError and UnicodeDecodeError are ValueErrors).
REPLY_ERRORS: tuple[type[Exception], ...] = (ValueError, KeyError, TypeError, AttributeError)
_SERVICES = {"data": "Managed HSM data-plane", "management": "Azure Resource Manager"}
_FOREIGN_CHALLENGE = re.compile(r"challenge resource '([^']*)' does not match the requested domain")
_CHALLENGE_PART = re.compile(r'(authorization(?:_uri)?|resource|scope)="([^"]*)"', re.IGNORECASE)

# Codes an SDK call can report that hsmsync treats specially.
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

    @property
    def host(self) -> str:
        """Where the call went (scheme and host), or a description when the URL is unknown."""
        parts = urlsplit(self.url)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
        return "the service"

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


def service_ids(exc: HttpResponseError, message: str) -> str:
    """` [request id …, activity id …]`: what Azure support needs to find the call in its logs."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    request_headers = getattr(getattr(response, "request", None), "headers", None) or {}
    parts = []
    for header, label in _ID_HEADERS:
        value = headers.get(header)
        if not value and header == "x-ms-client-request-id":  # the id the SDK sent, if not echoed
            value = request_headers.get(header)
        if value and _ID_VALUE.fullmatch(str(value)):
            parts.append(f"{label} {value}")
    activity = _ACTIVITY_ID.search(message)
    if activity and f"request id {activity.group(1)}" not in parts:
        parts.append(f"activity id {activity.group(1)}")
    return f" [{', '.join(parts)}]" if parts else ""


def _denied_target(attempt: Attempt) -> Target:
    return Target.hsm(attempt.target) if attempt.plane == "data" else ARM


def missing_permission(message: str, plane: str) -> str | None:
    """The action a 403 says the caller lacks, if the service message names it."""
    if plane == "data":
        found = _DATA_ACTION.search(message)
        return found.group(0) if found else None
    found_arm = _ARM_ACTION.search(message)
    return found_arm.group(1) if found_arm else None


@contextmanager
def sdk_errors(attempt: Attempt) -> Iterator[None]:
    """SDK failures and replies of the wrong shape inside the block become BackendErrors. Handle
    the outcomes that are not errors (a 404 on delete, say) inside the block."""
    try:
        yield
    except AzureError as exc:
        raise to_backend_error(exc, attempt) from exc
    except REPLY_ERRORS as exc:
        raise unexpected_reply(exc, attempt) from exc


def call_sdk(attempt: Attempt, fn: Callable[[], T]) -> T:
    """fn(), with SDK failures and replies of the wrong shape turned into BackendErrors."""
    with sdk_errors(attempt):
        return fn()


def call_arm(arm_url: str, attempt: Attempt, fn: Callable[[], T]) -> T:
    """`call_sdk` for an ARM call: its errors name the ARM endpoint when the attempt names no URL."""
    return call_sdk(replace(attempt, url=attempt.url or arm_url), fn)


def unexpected_reply(exc: BaseException, attempt: Attempt) -> BackendError:
    """The service answered, but not with what the SDK expects (a proxy, a wrong URL, another service)."""
    foreign = _FOREIGN_CHALLENGE.search(str(exc))
    if foreign:  # the SDK's own advice (turn the check off) is not for a CLI's user
        return BackendError(
            f"{attempt.describe()}: {attempt.host} asked for a token for '{foreign.group(1)}', which "
            "is not the service at that address; no token was sent. Check the URL"
        )
    expected = _SERVICES.get(attempt.plane, "Azure")
    return BackendError(
        f"{attempt.describe()}: unexpected reply from {attempt.host}: expected {expected} JSON, "
        f"got {_reply_detail(exc)}. Check that the URL names the right service, and that no proxy "
        "or sign-in page answers in its place"
    )


def _reply_detail(exc: BaseException) -> str:
    if isinstance(exc, HttpResponseError) and not isinstance(exc, DecodeError):
        headers = getattr(exc.response, "headers", None) or {}
        kind = str(headers.get("Content-Type") or "no content type").split(";")[0]
        return f"HTTP {exc.status_code} ({kind}), a status this call does not return"
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 3:
        text = str(current).splitlines()[0] if str(current).strip() else ""
        parts.append(f"{type(current).__name__}: {text}" if text else type(current).__name__)
        current = current.__cause__
    return redact(" (caused by ".join(parts) + ")" * (len(parts) - 1))


def _challenge_note(exc: HttpResponseError) -> str:
    """What a 401's WWW-Authenticate asks for: tells a challenge from another service or tenant."""
    headers = getattr(exc.response, "headers", None) or {}
    header = str(headers.get("WWW-Authenticate") or "")
    found = {k.lower().removesuffix("_uri"): v for k, v in _CHALLENGE_PART.findall(header)}
    asked = [f"{k} '{v}'" for k, v in sorted(found.items()) if v]
    return f"; the service asks for a token with {', '.join(asked)}" if asked else ""


def to_backend_error(exc: AzureError, attempt: Attempt) -> BackendError:
    """A BackendError for a failed SDK call (never includes a token)."""
    what = attempt.describe()
    if isinstance(exc, DecodeError) or (
        isinstance(exc, HttpResponseError) and exc.status_code is not None and exc.status_code < 300
    ):
        return unexpected_reply(exc, attempt)
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = int(exc.status_code)
        code, message = service_error(exc)
        ids = service_ids(exc, message)
        if status == 403:
            action = missing_permission(message, attempt.plane)
            need = f"it needs '{action}'" if action else "it lacks the permission for this call"
            scope_hint = " on the HSM" if attempt.plane == "data" else ""
            return BackendError(
                f"permission denied: {what}: the identity hsmsync runs as is not authorized; "
                f"{need}{scope_hint}. Service said: {code or status}: {_ACTIVITY.sub('', message)}{ids}",
                code=code,
                status=status,
                denied=Denied(action, _denied_target(attempt), attempt.scope) if action else None,
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
                f"authentication rejected by {_response_host(exc, attempt)}: {what}: "
                f"{code or 'Unauthorized'}: {message}{redact(_challenge_note(exc))}{ids}",
                code=code,
                status=status,
            )
        return BackendError(
            f"{what} failed: HTTP {status} {code or ''}: {message}{ids}".replace("  ", " "),
            code=code,
            status=status,
        )
    if isinstance(exc, ClientAuthenticationError):
        # E.g. a challenge from this host asked for a token of another tenant, which the credential
        # refuses to get: name the host that asked.
        return BackendError(
            f"could not get an access token for {what}, asked by {attempt.host}: {redact(_text(exc))}"
        )
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


def _response_host(exc: HttpResponseError, attempt: Attempt) -> str:
    parts = urlsplit(str(getattr(getattr(exc.response, "request", None), "url", "") or ""))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else attempt.host


def _text(exc: AzureError) -> str:
    message = exc.message if isinstance(exc.message, str) else str(exc)
    return message.splitlines()[0] if message else type(exc).__name__
