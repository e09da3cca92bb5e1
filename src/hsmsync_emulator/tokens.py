"""Signed tokens: the emulator's token authority (standing for Entra ID) and the simulated CI issuers.

Every token is an RS256 JWT. The authority signs access tokens with its own key (published as
JWKS) and checks, for every request to the data plane, ARM and Graph: the signature against that
key, the issuer and `tid` (this tenant), the audience (the service's resource) and the lifetime.
The simulated GitHub Actions and Azure Pipelines issuers sign the OIDC tokens that applications'
federated credentials accept. Keys are generated once per process (RSA generation is slow);
each emulator still only trusts its own tenant.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import time
from collections.abc import Collection, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

DEFAULT_TENANT = "00000000-0000-0000-0000-000000000000"
HSM_RESOURCE = "https://managedhsm.azure.net"
ARM_RESOURCE = "https://management.azure.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
VAULT_RESOURCE = "https://vault.azure.net"
# The audiences each service accepts (Azure accepts the resource with and without a trailing slash;
# ARM also its classic resource, Graph also its application id).
AUDIENCES: dict[str, frozenset[str]] = {
    HSM_RESOURCE: frozenset({HSM_RESOURCE, HSM_RESOURCE + "/"}),
    VAULT_RESOURCE: frozenset({VAULT_RESOURCE, VAULT_RESOURCE + "/"}),
    ARM_RESOURCE: frozenset(
        {
            ARM_RESOURCE,
            ARM_RESOURCE + "/",
            "https://management.core.windows.net",
            "https://management.core.windows.net/",
        }
    ),
    GRAPH_RESOURCE: frozenset({GRAPH_RESOURCE, GRAPH_RESOURCE + "/", "00000003-0000-0000-c000-000000000000"}),
}
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
PIPELINES_ORGANIZATION_ID = "6f1c2b3a-0000-4000-8000-00000000a2e5"
PIPELINES_ISSUER = f"https://vstoken.dev.azure.com/{PIPELINES_ORGANIZATION_ID}"
LIFETIME = 3600
_SIGNED_CACHE = 1024  # tokens remembered as correctly signed (forgotten all at once when full)
CLOCK_SKEW = 300  # seconds of clock difference Entra-protected services tolerate


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified. Raises ValueError when it is not a JWT with a JSON object."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        raise ValueError("not a JWT (expected three dot-separated parts)")
    try:
        payload = json.loads(_b64url_decode(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"JWT payload is not base64url JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError("JWT payload is not a JSON object")
    return payload


def resource_of(scope: str) -> str:
    """`https://managedhsm.azure.net/.default` -> `https://managedhsm.azure.net`."""
    scope = scope.strip()
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope.rstrip("/")


@functools.cache
def _private_key(purpose: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class SigningKey:
    """An RSA key that signs RS256 JWTs and publishes its public half as a JWK."""

    def __init__(self, purpose: str) -> None:
        self.private = _private_key(purpose)
        self.public = self.private.public_key()
        numbers = self.public.public_numbers()
        self.kid = hashlib.sha256(f"{numbers.n}:{numbers.e}".encode()).hexdigest()[:27]

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def jwk(self) -> dict[str, Any]:
        key: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.public))
        return {**key, "kid": self.kid, "use": "sig", "alg": "RS256"}


class TokenRejected(Exception):
    """A token a service refuses. kind: missing, malformed, signature, tenant, expired, audience."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def verify_signed(token: str, key: SigningKey) -> dict[str, Any]:
    """The claims of `token` when it is an RS256 JWT signed by `key` (nothing else is checked)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("malformed", "The access token is malformed (not a JWT).") from None
    if header.get("alg") != "RS256":
        raise TokenRejected(
            "signature", f"The access token is not signed with RS256 (alg '{header.get('alg')}')."
        )
    if header.get("kid") != key.kid:
        raise TokenRejected(
            "signature", "The access token is signed by a key the token service did not publish."
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public,
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise TokenRejected("signature", "The access token's signature is invalid.") from None
    except jwt.PyJWTError as exc:
        raise TokenRejected("malformed", f"The access token is malformed: {exc}") from None
    return claims


def check_lifetime(claims: dict[str, Any], now: float) -> None:
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
        raise TokenRejected("malformed", "The access token has no valid 'exp' claim.")
    if exp + CLOCK_SKEW <= now:
        raise TokenRejected(
            "expired",
            f"The access token expiry UTC time '{_utc(exp)}' is earlier than current UTC time '{_utc(now)}'.",
        )
    if nbf - CLOCK_SKEW > now:
        raise TokenRejected("expired", f"The access token is not valid before '{_utc(nbf)}'.")


def _utc(epoch: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(epoch))


class TokenAuthority:
    """Entra ID for one tenant: signs access tokens and verifies them for the services."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id.lower()
        self.key = SigningKey("entra")
        # Tokens whose signature was checked, and their claims: a client sends the same token on
        # every call for an hour, and checking the signature again cost most of a call's CPU.
        # Lifetime, tenant and audience are still checked on every call.
        self._signed: dict[str, dict[str, Any]] = {}

    @property
    def issuers(self) -> frozenset[str]:
        """The v1 (`sts.windows.net`) and v2 issuer forms of this tenant."""
        return frozenset(
            {
                f"https://sts.windows.net/{self.tenant_id}/",
                f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
            }
        )

    def issue(
        self,
        *,
        object_id: str,
        resource: str,
        app_id: str | None = None,
        groups: Sequence[str] | None = None,
        upn: str | None = None,
        lifetime: int = LIFETIME,
    ) -> str:
        """A v1 access token for `resource`. `groups` only for users (service principals' group
        membership is not honoured by the data plane; their tokens carry none)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "tid": self.tenant_id,
            "oid": object_id,
            "sub": object_id,
            "ver": "1.0",
        }
        if app_id is not None:
            claims.update(appid=app_id, appidacr="1", idtyp="app")
        if groups is not None:
            claims.update(groups=list(groups), idtyp="user")
        if upn is not None:
            claims["upn"] = upn
        return self.key.sign(claims)

    def verify(self, token: str, audiences: Collection[str], *, now: float | None = None) -> dict[str, Any]:
        """The claims of a token this authority issued for one of `audiences`; TokenRejected else."""
        claims = self._signed.get(token)
        if claims is None:
            claims = verify_signed(token, self.key)
            if len(self._signed) >= _SIGNED_CACHE:
                self._signed.clear()
            self._signed[token] = claims
        claims = dict(claims)  # callers get their own copy
        check_lifetime(claims, time.time() if now is None else now)
        if claims.get("tid") != self.tenant_id or claims.get("iss") not in self.issuers:
            raise TokenRejected(
                "tenant",
                f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the tenant "
                f"'https://sts.windows.net/{self.tenant_id}/' associated with this resource.",
            )
        if claims.get("aud") not in audiences:
            raise TokenRejected(
                "audience",
                f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. "
                f"It should exactly match one of the allowed audiences {', '.join(sorted(audiences))}.",
            )
        return claims
