"""The emulator's token service (standing for Entra ID) on its own loopback HTTPS port.

    GET  /{tenant}/v2.0/.well-known/openid-configuration   OIDC discovery (what MSAL reads first;
                                                           also for `common` and `organizations`)
    GET  /{tenant}/discovery/v2.0/keys                     the signing key (JWKS; likewise)
    POST /{tenant}/oauth2/v2.0/token                       client_credentials (client_secret or
                                                           client_assertion) and password grants
    GET  /msi/token                                        managed identity, App Service style
                                                           (IDENTITY_ENDPOINT / IDENTITY_HEADER)

Who may sign in comes from the state file's `sign_in` section: applications (client id -> object
id; secrets as SHA-256; federated credentials naming issuer, subject and audiences; managed
identities) and users (password as SHA-256, groups). A client assertion must be signed by a
simulated CI issuer (`ci_oidc.py`) and match one of the application's federated credentials.
Errors use Entra's shape: `{"error", "error_description": "AADSTS<code>: ...", "error_codes"}`.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from hsmsync.core.state_directory import SignInApplication, SignInDirectory
from hsmsync_emulator.ci_oidc import SimulatedCi
from hsmsync_emulator.server import Request, Response
from hsmsync_emulator.store import Store
from hsmsync_emulator.tokens import (
    AUDIENCES,
    GRAPH_RESOURCE,
    LIFETIME,
    TokenAuthority,
    TokenRejected,
    check_lifetime,
    decode_claims,
    resource_of,
    verify_signed,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Multi-tenant authorities: Entra serves their discovery (issuer with a literal `{tenantid}`) and keys;
# the emulator signs tokens only at its own tenant. (`az logout` of a service principal reads
# /organizations' discovery.)
_TENANT_ALIASES = frozenset({"common", "organizations"})
MSI_PATH = "/msi/token"


class LoginError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _matches(secret: str, hashes: tuple[str, ...]) -> bool:
    digest = sha256_hex(secret)
    return any(hmac.compare_digest(digest, h.lower()) for h in hashes)


def _token_answer(token: str) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "expires_in": LIFETIME - 1,
        "ext_expires_in": LIFETIME - 1,
        "access_token": token,
    }


class LoginService:
    """The token service's app (one Listener)."""

    def __init__(self, store: Store, authority: TokenAuthority, ci: SimulatedCi) -> None:
        self._store = store
        self.authority = authority
        self.ci = ci
        self.identity_header = uuid.uuid4().hex  # the managed-identity endpoint's shared secret
        self.token_requests = 0  # token requests received (tests compare with OIDC tokens used)
        # The emulator's Graph URL (its ARM port), accepted as Graph's resource id: clients such as
        # the Azure CLI ask for a token to the URL their cloud's metadata names for Graph.
        self.graph_urls: frozenset[str] = frozenset()
        self._count_lock = threading.Lock()

    def _count(self) -> None:
        with self._count_lock:
            self.token_requests += 1

    def __call__(self, request: Request) -> Response:
        headers = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
        try:
            if request.path.startswith(SimulatedCi.PREFIX):
                response = self.ci.handle(request)
            else:
                response = self._route(request)
        except LoginError as exc:
            body = {
                "error": exc.error,
                "error_description": f"AADSTS{exc.code}: {exc.description}",
                "error_codes": [exc.code],
                "trace_id": str(uuid.uuid4()),
                "correlation_id": str(uuid.uuid4()),
            }
            response = Response(exc.status, body)
        response.headers = {**headers, **response.headers}
        return response

    def _route(self, request: Request) -> Response:
        if request.path == MSI_PATH and request.method == "GET":
            return self._managed_identity(request)
        parts = request.path.strip("/").split("/")
        tenant, rest = parts[0].lower(), "/".join(parts[1:])
        if rest not in ("v2.0/.well-known/openid-configuration", "discovery/v2.0/keys", "oauth2/v2.0/token"):
            return Response(
                404, {"error": "not_found", "error_description": f"no such endpoint {request.path}"}
            )
        alias = tenant in _TENANT_ALIASES and not rest.endswith("token")
        if tenant != self.authority.tenant_id and not alias:
            raise LoginError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        base = f"{request.base_url}/{tenant}"
        if rest.endswith("openid-configuration"):
            return Response(200, self._discovery(base, "{tenantid}" if alias else self.authority.tenant_id))
        if rest.endswith("keys"):
            return Response(200, {"keys": [self.authority.key.jwk()]})
        if request.method != "POST":
            raise LoginError(400, "invalid_request", 900561, "The endpoint only accepts POST requests.")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        return Response(200, _token_answer(self._grant(form)))

    def _discovery(self, base: str, issuer_tenant: str) -> dict[str, Any]:
        return {
            "issuer": f"https://login.microsoftonline.com/{issuer_tenant}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }

    def _directory(self) -> SignInDirectory:
        return self._store.read().sign_in

    def _resource(self, scopes: str) -> str:
        resources = {
            resource_of(s) for s in scopes.split() if s not in ("openid", "profile", "offline_access")
        }
        if len(resources) != 1:
            raise LoginError(
                400, "invalid_scope", 70011, f"The provided value for scope '{scopes}' is not valid."
            )
        resource = resources.pop()
        if resource.rstrip("/").lower() in self.graph_urls:
            return GRAPH_RESOURCE  # the emulator's Graph by its URL (ASSUMPTIONS.md, "Graph")
        for known, audiences in AUDIENCES.items():
            if resource in audiences:
                return known
        raise LoginError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{self.authority.tenant_id}.",
        )

    def _grant(self, form: dict[str, str]) -> str:
        grant = form.get("grant_type", "")
        resource = self._resource(form.get("scope", ""))
        self._count()
        if grant == "password":
            return self._password(form, resource)
        if grant != "client_credentials":
            raise LoginError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
            )
        client_id = form.get("client_id", "").lower()
        app = next((a for a in self._directory().applications if a.client_id == client_id), None)
        if app is None:
            raise LoginError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory.",
            )
        if "client_secret" in form:
            if not _matches(form["client_secret"], app.client_secret_sha256):
                raise LoginError(401, "invalid_client", 7000215, "Invalid client secret provided.")
        elif "client_assertion" in form:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise LoginError(400, "invalid_request", 7000219, "'client_assertion_type' is invalid.")
            self._check_assertion(form["client_assertion"], app)
        else:
            raise LoginError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        return self.authority.issue(object_id=app.object_id, resource=resource, app_id=app.client_id)

    def _check_assertion(self, assertion: str, app: SignInApplication) -> None:
        try:
            issuer = decode_claims(assertion).get("iss")
        except ValueError:
            raise LoginError(400, "invalid_client", 50027, "JWT token is invalid or malformed.") from None
        key = self.ci.key_for(issuer) if isinstance(issuer, str) else None
        records = [f for f in app.federated_credentials if f.issuer == issuer]
        if key is None or not records:
            raise LoginError(
                400,
                "invalid_client",
                700211,
                f"No matching federated identity record found for presented assertion issuer '{issuer}'.",
            )
        try:
            claims = verify_signed(assertion, key)
            check_lifetime(claims, time.time())
        except TokenRejected as exc:
            code = 700024 if exc.kind == "expired" else 700027
            raise LoginError(
                400, "invalid_client", code, f"Client assertion failed validation: {exc.message}"
            ) from None
        subject, audience = claims.get("sub"), claims.get("aud")
        records = [f for f in records if f.subject == subject]
        if not records:
            raise LoginError(
                400,
                "invalid_client",
                700213,
                f"No matching federated identity record found for presented assertion subject '{subject}'.",
            )
        if not any(audience in f.audiences for f in records):
            raise LoginError(
                400,
                "invalid_client",
                700212,
                f"No matching federated identity record found for presented assertion audience '{audience}'.",
            )

    def _password(self, form: dict[str, str], resource: str) -> str:
        name = form.get("username", "").lower()
        user = next((u for u in self._directory().users if u.user_principal_name.lower() == name), None)
        if user is None or not _matches(form.get("password", ""), (user.password_sha256,)):
            raise LoginError(
                400,
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.",
            )
        return self.authority.issue(
            object_id=user.object_id, resource=resource, groups=user.groups, upn=user.user_principal_name
        )

    def _managed_identity(self, request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get("X-IDENTITY-HEADER", ""), self.identity_header):
            return Response(401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong."})
        wanted = (request.param("client_id") or "").lower()
        identities = [a for a in self._directory().applications if a.managed_identity]
        app = next((a for a in identities if not wanted or a.client_id == wanted), None)
        if app is None:
            return Response(400, {"statusCode": 400, "message": "No managed identity found for the request."})
        try:
            resource = self._resource(request.param("resource") or "")
        except LoginError as exc:
            return Response(400, {"statusCode": 400, "message": exc.description})
        self._count()
        token = self.authority.issue(object_id=app.object_id, resource=resource, app_id=app.client_id)
        expires_on = int(time.time()) + LIFETIME
        body = {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": app.client_id,
        }
        return Response(200, body)
