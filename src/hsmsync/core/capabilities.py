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
    """Sensitive things a principal can do on an HSM, in the words of a review sentence.

    A sentence always names the exact actions held (`describe`): a role with only wrap and
    unwrap "can use keys (wrap, unwrap)", never every key operation.
    """

    ASSIGN_ROLES = "assign roles"
    MANAGE_ROLE_DEFINITIONS = "manage role definitions"
    USE_KEYS = "use keys"
    EXPORT_OR_RELEASE = "export or release keys"
    SECURITY_DOMAIN = "manage the security domain"
    BACKUP_RESTORE = "start a full backup or restore"
    PURGE = "purge deleted keys"

    def held_in(self, actions: frozenset[str]) -> frozenset[str]:
        """The actions of this capability among a set of short, lower-cased data actions."""
        if self is Capability.SECURITY_DOMAIN:
            return frozenset(a for a in actions if a.startswith("securitydomain/"))
        return actions & _CAPABILITY_ACTIONS[self]

    def granted_by(self, actions: frozenset[str]) -> bool:
        """Does a set of short, lower-cased data actions include this capability?"""
        return bool(self.held_in(actions))

    @property
    def actions(self) -> frozenset[str]:
        """Every action of this capability the service names today, short and lower-cased."""
        return _CAPABILITY_ACTIONS[self]

    def verbs(self, actions: frozenset[str]) -> tuple[str, ...]:
        """The verbs of the actions held of this capability, in reading order: (`wrap`, `unwrap`)."""
        held = self.held_in(actions)
        named = [verb for action, verb in _VERBS[self] if action in held]
        return (*named, *sorted(a for a in held if a not in dict(_VERBS[self])))

    def describe(self, actions: frozenset[str]) -> str:
        """`use keys (wrap, unwrap)`: the capability with exactly the actions held of it."""
        verbs = _VERBS[self]
        if len(verbs) == 1:
            return self.value
        held = self.held_in(actions)
        if len(held) == 1 and next(iter(held)) in _ALONE:
            return _ALONE[next(iter(held))]
        named = [verb for action, verb in verbs if action in held]
        named += sorted(a for a in held if a not in dict(verbs))  # e.g. a new securitydomain/ action
        return f"{self.value} ({', '.join(named)})"


# Each capability's actions in reading order, with the verb a sentence uses for each.
_VERBS: dict[Capability, tuple[tuple[str, str], ...]] = {
    Capability.ASSIGN_ROLES: (("roleassignments/write/action", "assign"),),
    Capability.MANAGE_ROLE_DEFINITIONS: (
        ("roledefinitions/write/action", "write"),
        ("roledefinitions/delete/action", "delete"),
    ),
    Capability.USE_KEYS: tuple(
        (f"keys/{verb}/action", verb) for verb in ("sign", "verify", "encrypt", "decrypt", "wrap", "unwrap")
    ),
    Capability.EXPORT_OR_RELEASE: (("keys/export/action", "export"), ("keys/release/action", "release")),
    Capability.SECURITY_DOMAIN: (
        ("securitydomain/download/action", "download"),
        ("securitydomain/upload/action", "upload"),
        ("securitydomain/download/read", "download status"),
        ("securitydomain/upload/read", "upload status"),
        ("securitydomain/transferkey/read", "transfer key"),
    ),
    Capability.BACKUP_RESTORE: (("backup/start/action", "backup"), ("restore/start/action", "restore")),
    Capability.PURGE: (("keys/deletedkeys/delete", "purge"),),
}
# How a capability reads when only one of its actions is held (clearer than "export or release
# keys (release)").
_ALONE = {
    "roledefinitions/write/action": "write role definitions",
    "roledefinitions/delete/action": "delete role definitions",
    "keys/export/action": "export keys",
    "keys/release/action": "release keys",
    "backup/start/action": "start a full backup",
    "restore/start/action": "start a full restore",
}
_CAPABILITY_ACTIONS: dict[Capability, frozenset[str]] = {
    capability: frozenset(action for action, _ in verbs) for capability, verbs in _VERBS.items()
}
