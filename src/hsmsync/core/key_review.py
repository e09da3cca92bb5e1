"""The key review auditors ask for: every key of each HSM (and vault) with its type, state,
expiry, last rotation and who can use it. Pure: the caller passes live state, grants and `now`.

"Who can use" is answered by the core's effective-access functions, never re-derived here:
`who_can_effective` over the grants followed through groups (`expand`) for an HSM's key, the
same answer `hsmsync whocan --key` gives, kept in three lists (holds, once activated, can obtain);
`who_can_on_vault` and `vault_obtainers` for an access-policy vault; `who_can_on_rbac_vault` for a
vault on Azure RBAC (role-assignment conditions evaluated for each key's name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from hsmsync.core.conditions import NOT_EVALUATED
from hsmsync.core.effective import EffectiveGrant, Status
from hsmsync.core.state import KeyProperties, LiveState
from hsmsync.core.vault_access import PolicyGrant
from hsmsync.core.vault_rbac_access import who_can_on_rbac_vault
from hsmsync.core.whocan import AccessPath, vault_obtainers, who_can_effective, who_can_on_vault

# The data actions that use a key's material (or hand it out), in the order an answer names them.
HSM_KEY_USE = tuple(
    (f"keys/{verb}/action", verb)
    for verb in ("sign", "verify", "encrypt", "decrypt", "wrap", "unwrap", "export", "release")
)
# The access-policy permissions of the same meaning on a Key Vault.
VAULT_KEY_USE = (
    ("sign", "sign"),
    ("verify", "verify"),
    ("encrypt", "encrypt"),
    ("decrypt", "decrypt"),
    ("wrapkey", "wrap"),
    ("unwrapkey", "unwrap"),
    ("release", "release"),
)
DEFAULT_WARNING_DAYS = 30


class Expiry(StrEnum):
    """Where a key stands against its expiry date, as the Azure Policy built-ins judge it."""

    NONE = "no expiry"
    EXPIRED = "expired"
    EXPIRING = "expiring"
    OK = "ok"
    UNKNOWN = "unknown"  # attributes not read (a state file with key names only)


@dataclass(frozen=True, slots=True)
class KeyUser:
    """One principal that can use a key: the verbs it holds and the grants they come through."""

    principal: str
    principal_type: str
    verbs: tuple[str, ...]
    # "Crypto User at / (team application)", through groups
    # "Crypto User at / (team application), through group ops [member]"
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeyEntry:
    owner_kind: str  # "hsm" | "vault"
    owner: str
    name: str
    properties: KeyProperties | None  # None: only the name is known
    expiry: Expiry
    days_left: int | None  # whole days until expiry (negative once expired)
    users: tuple[KeyUser, ...] | None  # None: not evaluated (a vault that uses Azure RBAC, or lint)
    # Who cannot use it now but can once it activates a PIM-eligible membership, and who can
    # obtain the use by assigning itself a role (or, on a vault, by writing its access policies).
    once_activated: tuple[KeyUser, ...] | None = None
    can_obtain: tuple[KeyUser, ...] | None = None
    # A vault on Azure RBAC: who may use it under a role-assignment condition hsmsync could not
    # evaluate (core/conditions.py): neither counted as a user nor left out.
    conditional: tuple[KeyUser, ...] = ()

    @property
    def last_rotated(self) -> datetime | None:
        """A rotation creates a new version: the current version's creation is the last rotation."""
        return self.properties.created_on if self.properties else None


@dataclass(frozen=True, slots=True)
class KeyInventory:
    now: datetime
    warning_days: int
    entries: tuple[KeyEntry, ...]
    notes: tuple[str, ...]  # what could not be listed, and why


def expiry_of(props: KeyProperties | None, now: datetime, warning_days: int) -> tuple[Expiry, int | None]:
    if props is None:
        return Expiry.UNKNOWN, None
    if props.expires_on is None:
        return Expiry.NONE, None
    left = props.expires_on - now
    if left.total_seconds() <= 0:
        return Expiry.EXPIRED, left.days  # floor: one second past expiry is day -1
    # Round up while the key works (12 hours left is day 1), so the days shown and the flag
    # agree: flagged exactly when the days shown are within the window.
    days = -(-left // timedelta(days=1))
    return (Expiry.EXPIRING if days <= warning_days else Expiry.OK), days


def _path_text(p: AccessPath) -> str:
    through = f", through {' -> '.join(p.through)}" if p.through else ""
    # an obtainer through a PIM-eligible membership (an eligible user's list has its own heading)
    later = (
        ", once activated"
        if p.status.startswith("can obtain") and p.status.endswith("once activated")
        else ""
    )
    condition = f", under a condition ({p.condition_verdict}): {p.condition}" if p.condition else ""
    return f"{p.role} at {p.scope} ({p.via}){through}{later}{condition}"


def _users(paths_by_verb: Sequence[tuple[str, list[AccessPath]]]) -> tuple[KeyUser, ...]:
    # By object id: two principals can be shown alike (a manifest key spelt like an unknown
    # principal's id), and each keeps its own type, verbs and paths. A user and the same user
    # through an application (a compound identity, shown "alice via application X") are two.
    verbs: dict[tuple[str, str], list[str]] = {}
    how: dict[tuple[str, str], dict[str, None]] = {}
    who: dict[tuple[str, str], AccessPath] = {}
    for verb, paths in paths_by_verb:
        for p in paths:
            i = (p.principal_id, p.principal)
            held = verbs.setdefault(i, [])
            if verb not in held:
                held.append(verb)
            how.setdefault(i, {})[_path_text(p)] = None
            who[i] = p
    return tuple(
        KeyUser(who[i].principal, who[i].principal_type, tuple(verbs[i]), tuple(how[i]))
        for i in sorted(verbs, key=lambda i: (who[i].principal.lower(), i))
    )


Users = tuple[tuple[KeyUser, ...], tuple[KeyUser, ...], tuple[KeyUser, ...]]


def _hsm_key_users(effective: Sequence[EffectiveGrant], hsm: str, key: str) -> Users:
    """(holds, once activated, can obtain) for one key: `whocan --key`'s answer per verb."""
    answers = [(verb, who_can_effective(effective, hsm, action, key)) for action, verb in HSM_KEY_USE]

    def having(status: Status) -> list[tuple[str, list[AccessPath]]]:
        return [(verb, [p for p in w.holds if p.status == status.value]) for verb, w in answers]

    obtain = [(verb, w.can_obtain) for verb, w in answers]
    return _users(having(Status.HOLDS)), _users(having(Status.ONCE_ACTIVATED)), _users(obtain)


def _hsm_entries(
    live: LiveState, effective: Sequence[EffectiveGrant] | None, now: datetime, warning_days: int
) -> tuple[list[KeyEntry], list[str]]:
    entries: list[KeyEntry] = []
    notes: list[str] = []
    for hsm_name in sorted(live.hsms):
        hsm = live.hsms[hsm_name]
        if hsm.keys is None:
            notes.append(f"HSM {hsm_name}: its keys could not be listed")
            continue
        props = {p.name.lower(): p for p in hsm.key_properties}
        for key in sorted(hsm.keys, key=str.lower):
            known = props.get(key.lower())
            expiry, days = expiry_of(known, now, warning_days)
            if effective is None:
                entries.append(KeyEntry("hsm", hsm_name, key, known, expiry, days, None))
                continue
            users, eligible, obtain = _hsm_key_users(effective, hsm_name, key)
            entries.append(KeyEntry("hsm", hsm_name, key, known, expiry, days, users, eligible, obtain))
    return entries, notes


def _rbac_key_users(
    effective: Sequence[EffectiveGrant], resource_id: str, key: str
) -> tuple[tuple[KeyUser, ...], tuple[KeyUser, ...], tuple[KeyUser, ...], tuple[KeyUser, ...]]:
    """(holds, once activated, can obtain, conditional) for one key of a vault on Azure RBAC:
    `whocan --vault --object KEY`'s answer per verb, conditions evaluated for the key's name."""
    answers = [
        (verb, who_can_on_rbac_vault(effective, resource_id, "keys", perm, key))
        for perm, verb in VAULT_KEY_USE
    ]

    def having(status: str) -> list[tuple[str, list[AccessPath]]]:
        return [(verb, [p for p in a.holds if p.status == status]) for verb, a in answers]

    return (
        _users(having(Status.HOLDS.value)),
        _users(having(Status.ONCE_ACTIVATED.value)),
        _users([(verb, a.can_obtain) for verb, a in answers]),
        _users([(verb, [p for p in a.holds if p.status.endswith(NOT_EVALUATED)]) for verb, a in answers]),
    )


def _vault_entries(
    live: LiveState,
    policies: Sequence[PolicyGrant] | None,
    effective: Sequence[EffectiveGrant],
    now: datetime,
    warning_days: int,
) -> tuple[list[KeyEntry], list[str]]:
    entries: list[KeyEntry] = []
    notes: list[str] = []
    for vault_name in sorted(live.vaults):
        vault = live.vaults[vault_name]
        if vault.keys is None:
            notes.append(f"vault {vault_name}: its keys were not read")
            continue
        for props in sorted(vault.keys, key=lambda p: p.name.lower()):
            expiry, days = expiry_of(props, now, warning_days)
            if policies is None:
                entries.append(KeyEntry("vault", vault_name, props.name, props, expiry, days, None))
                continue
            if vault.enable_rbac_authorization:
                users, eligible, obtain, conditional = _rbac_key_users(
                    effective, vault.resource_id, props.name
                )
                entry = KeyEntry(
                    "vault", vault_name, props.name, props, expiry, days, users, eligible, obtain
                )
                entries.append(replace(entry, conditional=conditional))
                continue
            answers = [
                (verb, who_can_on_vault(policies, vault_name, "keys", perm)) for perm, verb in VAULT_KEY_USE
            ]
            # A group's entry reaches its members (`expand_policies`); a PIM-eligible one, once activated.
            users, eligible = (
                _users([(verb, [p for p in paths if p.status == s.value]) for verb, paths in answers])
                for s in (Status.HOLDS, Status.ONCE_ACTIVATED)
            )
            # A writer of the vault (Azure RBAC) can set itself an access policy for every verb.
            writers = vault_obtainers(effective, vault.resource_id)
            obtain = _users([(verb, writers) for _, verb in VAULT_KEY_USE])
            entries.append(
                KeyEntry("vault", vault_name, props.name, props, expiry, days, users, eligible, obtain)
            )
    return entries, notes


def key_inventory(
    live: LiveState,
    effective: Sequence[EffectiveGrant] | None,
    policies: Sequence[PolicyGrant] | None,
    *,
    now: datetime,
    warning_days: int = DEFAULT_WARNING_DAYS,
) -> KeyInventory:
    """Every listed key of every HSM, then of every vault whose keys were read, by name.

    `effective`: the grants followed through groups (`effective.expand`). Without them (or
    policies) who can use each key is not evaluated (`users` is None): lint asks only about
    expiry."""
    hsm_entries, hsm_notes = _hsm_entries(live, effective, now, warning_days)
    vault_entries, vault_notes = _vault_entries(live, policies, effective or (), now, warning_days)
    return KeyInventory(now, warning_days, (*hsm_entries, *vault_entries), (*hsm_notes, *vault_notes))
