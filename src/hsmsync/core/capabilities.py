"""Data actions grouped into the capabilities reviewers and lint rules reason about.

Action names are the service's, lower-cased and without the `Microsoft.KeyVault/managedHsm/`
prefix (e.g. `keys/sign/action`), so sets compare without worrying about spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from functools import cache

from hsmsync.core.catalog import DATA_ACTION_PREFIX
from hsmsync.core.state import Permission

_PREFIX = DATA_ACTION_PREFIX.lower()

ASSIGN_ROLES = frozenset({"roleassignments/write/action"})
# Cryptographic operations with a key's material; verify only needs the public key, so the
# "crypto-use" set used for separation of duties leaves it out while "use keys" includes it.
KEY_OPERATIONS = frozenset(
    f"keys/{verb}/action" for verb in ("encrypt", "decrypt", "wrap", "unwrap", "sign", "verify")
)
EXPORT_OR_RELEASE = frozenset({"keys/export/action", "keys/release/action"})
# Export is left out: Crypto Officer (the role Microsoft suggests for a security team) holds it
# next to roleAssignments/write by design; export is flagged on its own (risk flags, HSM004).
CRYPTO_USE = (KEY_OPERATIONS - {"keys/verify/action"}) | {"keys/release/action"}
HSM_WIDE_KEY_USE = KEY_OPERATIONS | {"keys/release/action"}
PURGE_KEYS = frozenset({"keys/deletedkeys/delete"})
MANAGE_ROLE_DEFINITIONS = frozenset({"roledefinitions/write/action", "roledefinitions/delete/action"})


def short_action(action: str) -> str:
    """`Microsoft.KeyVault/managedHsm/keys/sign/action` -> `keys/sign/action` (lower-cased)."""
    lowered = action.lower()
    return lowered[len(_PREFIX) :] if lowered.startswith(_PREFIX) else lowered


def short_actions(actions: Iterable[str]) -> frozenset[str]:
    return frozenset(short_action(a) for a in actions)


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    # Azure RBAC wildcards: `*` matches any run of characters, including `/`; case-insensitive.
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE)


def action_matches(pattern: str, action: str) -> bool:
    return bool(_pattern(pattern).match(action))


def allows(actions: Iterable[str], not_actions: Iterable[str], action: str) -> bool:
    """Does one list pair of a block (patterns granted, patterns excluded) allow `action`?"""
    return any(action_matches(p, action) for p in actions) and not any(
        action_matches(p, action) for p in not_actions
    )


def permits(permissions: Iterable[Permission], action: str, *, data: bool) -> bool:
    """Does a role with these permission blocks allow `action` (a data action when `data`)?

    The one place role definitions are evaluated, the way Azure does it: each block on its own
    (its notActions / notDataActions subtract only from its own actions / dataActions; they are
    not a deny), and the role allows what any of its blocks allows. Merging the blocks first would
    let one block's exclusions remove what another block grants. See "Understand Azure role
    definitions" (learn.microsoft.com/azure/role-based-access-control/role-definitions, sections
    NotActions and NotDataActions) and the `permissions` array in the HSM role-definition REST shape.
    """
    for block in permissions:
        granted, excluded = (
            (block.data_actions, block.not_data_actions) if data else (block.actions, block.not_actions)
        )
        if allows(granted, excluded, action):
            return True
    return False


class Capability(StrEnum):
    """Sensitive things a principal can do on an HSM, in the words of a review sentence."""

    ASSIGN_ROLES = "assign roles"
    MANAGE_ROLE_DEFINITIONS = "manage role definitions"
    USE_KEYS = "use keys (sign, verify, encrypt, decrypt, wrap, unwrap)"
    EXPORT_OR_RELEASE = "export or release keys"
    SECURITY_DOMAIN = "manage the security domain"
    BACKUP_RESTORE = "start a full backup or restore"
    PURGE = "purge deleted keys"

    def granted_by(self, actions: frozenset[str]) -> bool:
        """Does a set of short, lower-cased data actions include this capability?"""
        if self is Capability.SECURITY_DOMAIN:
            return any(a.startswith("securitydomain/") for a in actions)
        return bool(actions & _CAPABILITY_ACTIONS[self])


_CAPABILITY_ACTIONS: dict[Capability, frozenset[str]] = {
    Capability.ASSIGN_ROLES: ASSIGN_ROLES,
    Capability.MANAGE_ROLE_DEFINITIONS: MANAGE_ROLE_DEFINITIONS,
    Capability.USE_KEYS: KEY_OPERATIONS,
    Capability.EXPORT_OR_RELEASE: EXPORT_OR_RELEASE,
    Capability.SECURITY_DOMAIN: frozenset(),
    Capability.BACKUP_RESTORE: frozenset({"backup/start/action", "restore/start/action"}),
    Capability.PURGE: PURGE_KEYS,
}
