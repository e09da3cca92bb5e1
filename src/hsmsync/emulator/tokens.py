"""Unsigned JWTs for the emulator, and a credential that hands them to the Azure SDK clients.

The emulator reads the caller's `oid` and `groups` claims from the token without checking a
signature, so tests (and the live backend pointed at an emulator) can act as any principal.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

DEFAULT_TENANT = "00000000-0000-0000-0000-000000000000"
_LIFETIME = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _audience(scopes: Sequence[str]) -> str:
    if not scopes:
        return "https://managedhsm.azure.net"
    scope = scopes[0]
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope


def mint_token(
    oid: str,
    groups: Sequence[str] = (),
    tenant: str = DEFAULT_TENANT,
    *,
    audience: str = "https://managedhsm.azure.net",
    lifetime: int = _LIFETIME,
) -> str:
    """An unsigned JWT (`alg: none`) naming `oid` and its `groups`; the emulator trusts its claims."""
    now = int(time.time())
    header = {"alg": "none", "typ": "JWT"}
    payload: dict[str, Any] = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{tenant}/",
        "tid": tenant,
        "oid": oid,
        "sub": oid,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
    }
    if groups:  # like Entra ID, no claim at all when there is nothing to say (see pipeline.py)
        payload["groups"] = list(groups)
    parts = (json.dumps(header, separators=(",", ":")), json.dumps(payload, separators=(",", ":")))
    return ".".join(_b64url(p.encode("utf-8")) for p in parts) + "."


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


class StaticJwtCredential:
    """A `TokenCredential` (and `SupportsTokenInfo`) that mints unsigned JWTs for one principal.

    The token's audience follows the requested scope, so one credential serves the data plane
    (`https://managedhsm.azure.net/.default`) and ARM (`https://management.azure.com/.default`).
    `requests` records the scopes asked for, for tests.
    """

    def __init__(self, oid: str, groups: Sequence[str] = (), tenant_id: str = DEFAULT_TENANT) -> None:
        self.oid = oid
        self.groups = tuple(groups)
        self.tenant_id = tenant_id
        self.requests: list[tuple[str, ...]] = []

    def _mint(self, scopes: Sequence[str]) -> tuple[str, int]:
        self.requests.append(tuple(scopes))
        token = mint_token(self.oid, self.groups, self.tenant_id, audience=_audience(scopes))
        return token, int(time.time()) + _LIFETIME

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        token, expires_on = self._mint(scopes)
        return AccessToken(token, expires_on)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        token, expires_on = self._mint(scopes)
        return AccessTokenInfo(token, expires_on)

    def close(self) -> None:
        return None

    def __enter__(self) -> StaticJwtCredential:
        return self

    def __exit__(self, *args: object) -> None:
        return None
