"""Who is applying: the object id (and groups) in the access token the credential hands out.

The token is only decoded, never verified or printed: hsmsync uses it to tell the lockout guard
whose rights must survive the apply. A token without an `oid` claim gives no caller; a token that
does not list the groups has them looked up in Microsoft Graph (see AzureBackend.caller). A
user's groups count on both planes; a service principal's in Azure RBAC only (see guard.Caller).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from hsmsync.core.guard import Caller

ARM_SCOPE = "https://management.azure.com/.default"


def token_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) < 2:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def lists_groups(claims: dict[str, Any]) -> bool:
    """Does the token list the caller's groups? Service-principal tokens usually carry no `groups`
    claim, and a user in too many groups gets an overage marker (`_claim_names`) instead."""
    overage = claims.get("_claim_names")
    return isinstance(claims.get("groups"), list) and not (isinstance(overage, dict) and "groups" in overage)


def is_user_token(claims: dict[str, Any]) -> bool:
    """Was the token issued to a user (not to a service principal or managed identity)?"""
    return claims.get("idtyp") == "user" or "upn" in claims or "scp" in claims


def caller_from_token(token: str) -> Caller | None:
    claims = token_claims(token)
    oid = claims.get("oid") if claims is not None else None
    if not isinstance(oid, str) or not oid:
        return None
    assert claims is not None
    groups = claims.get("groups")
    group_ids = tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else ()
    if not is_user_token(claims):
        # An application's token may list groups (groupMembershipClaims), yet the HSM data plane
        # does not honour a service principal's groups: they count in Azure RBAC only.
        return Caller(oid.lower(), arm_only_group_ids=group_ids)
    return Caller(oid.lower(), group_ids)
