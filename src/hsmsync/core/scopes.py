"""Scope syntax for both planes."""

from __future__ import annotations

import re

_KEY_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_ARM_SCOPE = re.compile(
    r"(?ix)^/(?:"
    r"providers/Microsoft\.Management/managementGroups/[^/]+"
    r"|subscriptions/[^/]+(?:/resourceGroups/[^/]+(?:/providers/[^/]+/[^/]+/[^/]+(?:/[^/]+/[^/]+)*)?)?"
    r")$"
)


def normalize_data_scope(scope: str) -> str:
    """'/', '/keys' or '/keys/<name>'; extra and trailing slashes are dropped, 'keys' any case."""
    parts = [p for p in scope.strip().split("/") if p]
    if not parts:
        return "/"
    if parts[0].lower() != "keys" or len(parts) > 2:
        raise ValueError(f"'{scope}' is not a Managed HSM scope (use '/', '/keys' or '/keys/<key>')")
    if len(parts) == 1:
        return "/keys"
    if not _KEY_NAME.match(parts[1]):
        raise ValueError(f"'{parts[1]}' is not a valid key name (letters, digits and '-')")
    return f"/keys/{parts[1]}"


def normalize_arm_scope(scope: str) -> str:
    cleaned = "/" + "/".join(p for p in scope.strip().split("/") if p)
    if not _ARM_SCOPE.match(cleaned):
        raise ValueError(
            f"'{scope}' is not an ARM scope (management group, subscription, resource group or resource id)"
        )
    return cleaned


def arm_scope_key(scope: str) -> str:
    """ARM compares scopes case-insensitively."""
    return scope.rstrip("/").lower()


def data_scope_covers(assigned: str, requested: str) -> bool:
    """Does an assignment at `assigned` apply at `requested`?"""
    if assigned == "/":
        return True
    if assigned == "/keys":
        return requested == "/keys" or requested.startswith("/keys/")
    return assigned.lower() == requested.lower()
