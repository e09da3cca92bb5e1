"""What every request goes through: authentication, faults, throttling, authorization, errors, log."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.faults import Fault, FaultInjector, TokenBucket, retry_after_headers
from hsmsync_emulator.server import Request, Response
from hsmsync_emulator.tokens import HSM_RESOURCE, TokenAuthority, TokenRejected

INJECTED_RETRY_MS = 10
RequestLog = list[tuple[str, str, int]]
_RBAC = "/providers/microsoft.authorization/"


@dataclass(frozen=True, slots=True)
class Operation:
    """A routed request: what it needs (a data action at a scope) and how to carry it out."""

    run: Callable[[], Response]
    action: str | None = None
    scope: str = "/"
    rbac: bool = False  # counts against the HSM's RBAC operation budget


APP_MARK = "app:"  # marks the calling application's client id among a request's principals


class Service(Protocol):
    def resolve(self, request: Request) -> Operation: ...

    def is_allowed(self, principals: frozenset[str], action: str, scope: str) -> bool: ...


def base_headers(
    request_id: str, *, data_plane: bool, method: str = "GET", status: int = 200
) -> dict[str, str]:
    headers = {
        "Cache-Control": "no-cache",
        "Content-Type": "application/json; charset=utf-8",
        "x-ms-request-id": request_id,
        "x-ms-server-latency": "0",
    }
    if data_plane:
        headers.update(
            {
                "Content-Security-Policy": "default-src 'self'",
                "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
                "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "SAMEORIGIN",
            }
        )
        # As the recordings show: region and network info on successful answers only, the build
        # version on answers to GET only (any status, the 401 challenge included).
        if 200 <= status < 300:
            headers["x-ms-keyvault-region"] = "emulator"
            headers["x-ms-keyvault-network-info"] = "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=Ipv4;"
        if method == "GET":
            headers["x-ms-build-version"] = "hsmsync-emulator"
    else:
        headers["x-ms-correlation-request-id"] = request_id
    return headers


def error_body(code: str, message: str, request_id: str, inner: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": f"{message} (Activity ID: {request_id})"}
    if inner is not None:
        error["innererror"] = {"code": inner}
    return {"error": error}


def paged(
    items: list[Any], request: Request, page_size: int, *, token: str = "$skiptoken", null_next: bool = False
) -> Response:
    """One page of `items` with an absolute `nextLink` carrying the other query parameters."""
    raw = request.param(token)
    try:
        start = int(raw) if raw else 0
    except ValueError:
        raise ApiError(400, "BadParameter", f"Invalid {token} '{raw}'") from None
    start = max(start, 0)
    body: dict[str, Any] = {"value": items[start : start + page_size]}
    if start + page_size < len(items):
        query = {k: v for k, v in request.query.items() if k.lower() != token.lower()}
        query[token] = str(start + page_size)
        encoded = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in query.items())
        body["nextLink"] = f"{request.base_url}{request.path}?{encoded}"
    elif null_next:
        body["nextLink"] = None
    return Response(200, body)


class Gateway:
    """The app behind one port: the request pipeline around one service."""

    def __init__(
        self,
        service: Service,
        *,
        data_plane: bool,
        authority: TokenAuthority,
        audiences: Callable[[Request], frozenset[str]],
        injector: FaultInjector,
        bucket: Callable[[], TokenBucket | None],
        log: RequestLog,
        log_lock: threading.Lock,
        counter: Callable[[], None] | None = None,
        memberships: Callable[[str], frozenset[str]] = lambda oid: frozenset(),
        challenge_resource: str = HSM_RESOURCE,
        data_plane_groups: bool = False,
        route: Callable[[Request], tuple[Service, str]] | None = None,
    ) -> None:
        # A Key Vault's data plane (challenge resource https://vault.azure.net) honours group
        # membership, service principals' too; the Managed HSM data plane does not.
        self._challenge_resource = challenge_resource
        self._data_plane_groups = data_plane_groups
        self._service = service
        # An HSM with a replica region: which region's service answers (and authorizes) a request.
        self._route = route
        self._memberships = memberships
        self._data_plane = data_plane
        self._authority = authority
        self._tenant_id = authority.tenant_id
        self._audiences = audiences
        self._injector = injector
        self._bucket = bucket
        self._log = log
        self._log_lock = log_lock
        self._counter = counter

    def __call__(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        service, region = self._route(request) if self._route is not None else (self._service, None)
        try:
            response = self._handle(request, request_id, service)
        except ApiError as exc:
            body = error_body(exc.code, exc.message, request_id, exc.inner)
            response = Response(exc.status, body, dict(exc.headers))
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer
            response = Response(500, error_body("InternalError", f"Emulator error: {exc!r}", request_id))
        headers = base_headers(
            request_id, data_plane=self._data_plane, method=request.method, status=response.status
        )
        if region is not None and "x-ms-keyvault-region" in headers:  # on 2xx answers, as recorded
            headers["x-ms-keyvault-region"] = region
        headers.update(response.headers)
        response.headers = headers
        with self._log_lock:
            self._log.append((request.method, request.path, 0 if response.drop else response.status))
            if self._counter is not None and response.status != 401 and _RBAC in request.path.lower():
                self._counter()
        return response

    # ARM's error codes per rejection (the data plane answers "Unauthorized" with its challenge).
    _ARM_CODES = {
        "missing": "AuthenticationFailed",
        "malformed": "InvalidAuthenticationToken",
        "signature": "InvalidAuthenticationToken",
        "tenant": "InvalidAuthenticationTokenTenant",
        "expired": "ExpiredAuthenticationToken",
        "audience": "InvalidAuthenticationTokenAudience",
    }

    def _unauthorized(self, reason: str, kind: str) -> ApiError:
        if self._data_plane:
            challenge = (
                f'Bearer authorization="https://login.microsoftonline.com/{self._tenant_id}", '
                f'resource="{self._challenge_resource}"'
            )
            return ApiError(401, "Unauthorized", reason, {"WWW-Authenticate": challenge})
        challenge = (
            f'Bearer authorization_uri="https://login.microsoftonline.com/{self._tenant_id}", '
            f'error="invalid_token", error_description="{reason}"'
        )
        return ApiError(401, self._ARM_CODES[kind], reason, {"WWW-Authenticate": challenge})

    def _principals(self, request: Request) -> frozenset[str] | Response:
        """The caller's object id and the groups that count here, from a token the authority signed for
        this service's audience, this tenant, and still valid; 401 otherwise."""
        auth = request.headers.get("Authorization")
        if not auth:
            if self._data_plane:
                # The challenge the SDK's challenge policy expects: empty body, tenant in the header.
                err = self._unauthorized("", "missing")
                return Response(401, None, err.headers)
            raise self._unauthorized(
                "Authentication failed. The 'Authorization' header is missing.", "missing"
            )
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._unauthorized("The access token is missing or not a bearer token.", "malformed")
        try:
            claims = self._authority.verify(token.strip(), self._audiences(request))
        except TokenRejected as exc:
            raise self._unauthorized(exc.message, exc.kind) from None
        oid = claims.get("oid")
        groups = claims.get("groups")
        if groups is None and isinstance(oid, str):
            # Without a `groups` claim (service principals, managed identities) ARM and Graph resolve
            # membership from the directory; the Managed HSM data plane does not honour a service
            # principal's groups at all (ASSUMPTIONS.md, "Group membership").
            directory = not self._data_plane or self._data_plane_groups
            groups = sorted(self._memberships(oid)) if directory else []
        if not isinstance(oid, str) or not oid:
            raise self._unauthorized("The access token has no 'oid' claim.", "malformed")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise self._unauthorized(
                "The access token's 'groups' claim is not a list of strings.", "malformed"
            )
        app = claims.get("appid") or claims.get("azp")
        # The calling application travels with the principals, marked (APP_MARK + its client id), so a
        # Key Vault can honour a compound identity's entry (that user only through that app); no
        # principal id starts with the mark, so no other check can mistake it for one.
        marks = (APP_MARK + app,) if isinstance(app, str) and app else ()
        return frozenset(p.lower() for p in (oid, *groups, *marks))

    def _wrong_reply(self, kind: str, method: str) -> Response:
        """A reply no Azure service sends for this request (`reply=` faults), to test the client."""
        if kind == "html":
            page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>"
            return Response(200, raw=page, headers={"Content-Type": "text/html; charset=utf-8"})
        if kind == "shape":  # with the status the call expects, so only the body is wrong
            status = 201 if method == "PUT" else 200
            return Response(status, {"value": 17, "id": 17, "name": 17, "properties": 17, "nextLink": 17})
        other = "https://login.example.org/11111111-2222-3333-4444-555555555555"
        challenge = (
            f'Bearer authorization="{other}", resource="https://vault.example.org"'
            if self._data_plane
            else f'Bearer authorization_uri="{other}", error="invalid_token", '
            'error_description="The access token is from the wrong issuer"'
        )
        err = error_body("Unauthorized", "Token audience or issuer rejected", str(uuid.uuid4()))
        return Response(401, err, {"WWW-Authenticate": challenge})

    def _fault(self, method: str) -> Response | None:
        config = self._injector.config
        if config.reply is not None:
            return self._wrong_reply(config.reply, method)
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000.0)
        fault = self._injector.draw()
        if fault is Fault.DROP:
            return Response(0, drop=True)
        if fault is Fault.THROTTLE:
            raise ApiError(
                429,
                "Throttled",
                "Request was not processed because too many requests were received. Reason: injected fault",
                # Only the ms hint: azure-core prefers Retry-After (whole seconds) when both are present.
                {"x-ms-retry-after-ms": str(INJECTED_RETRY_MS)},
            )
        if fault is Fault.INTERNAL:
            raise ApiError(500, "InternalServerError", "Injected fault: internal server error")
        if fault is Fault.UNAVAILABLE:
            raise ApiError(503, "ServiceUnavailable", "Injected fault: service unavailable")
        return None

    def _handle(self, request: Request, request_id: str, service: Service) -> Response:
        principals = self._principals(request)
        if isinstance(principals, Response):
            return principals
        faulted = self._fault(request.method)
        if faulted is not None:
            return faulted
        operation = service.resolve(request)
        if operation.rbac:
            bucket = self._bucket()
            wait = bucket.take() if bucket is not None else 0.0
            if wait > 0:
                raise ApiError(
                    429,
                    "Throttled",
                    "Request was not processed because too many requests were received. "
                    "Reason: RBAC operations per second per HSM exceeded",
                    retry_after_headers(wait),
                )
        if operation.action is not None and not service.is_allowed(
            principals, operation.action, operation.scope
        ):
            raise ApiError(
                403, "AccessDenied", f"Not authorized to access {operation.action} on {operation.scope}"
            )
        return operation.run()
