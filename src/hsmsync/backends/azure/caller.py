"""Who is applying: the object id (and groups) in the access token the credential hands out.

The token is only decoded, never verified or printed: hsmsync uses it to tell the lockout guard
whose rights must survive the apply. A token without an `oid` claim gives no caller.
"""

from __future__ import annotations

import base64
import binascii
import json

from hsmsync.core.guard import Caller

ARM_SCOPE = "https://management.azure.com/.default"


def caller_from_token(token: str) -> Caller | None:
    parts = token.split(".")
    if len(parts) < 2:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    oid = claims.get("oid") if isinstance(claims, dict) else None
    if not isinstance(oid, str) or not oid:
        return None
    groups = claims.get("groups")
    group_ids = tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else ()
    return Caller(oid.lower(), group_ids)
