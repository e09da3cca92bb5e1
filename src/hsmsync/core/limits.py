"""Service limits, and a plan order that stays within them.

Make before break (creates, then deletes) keeps everyone's access during an apply, but at a full
scope the create is refused: swapping one member on a key that already holds 10 assignments
fails with RoleAssignmentLimitExceeded on every rerun. So where a scope would otherwise go over
its limit, exactly as many of that scope's deletes as needed move ahead of its first create, and
their reason says why. A plan that does not fit even so is refused at plan time.

Counts come from live state. They are exact where discovery read everything at the scope (the
state file; an HSM that prunes; a vault). For Azure RBAC the live backend counts a subscription's
assignments when the manifest prunes ARM (only then can a delete make room); otherwise the
assignments hsmsync reads are a lower bound for the 4,000 per subscription.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.state import LiveState

HSM_SCOPE_ASSIGNMENT_LIMIT = 50  # '/' and '/keys' together
KEY_SCOPE_ASSIGNMENT_LIMIT = 10  # each '/keys/<name>'
CUSTOM_ROLE_LIMIT = 50  # custom role definitions per HSM
SUBSCRIPTION_ASSIGNMENT_LIMIT = 4000  # Azure role assignments per subscription
ACCESS_POLICY_LIMIT = 1024  # access policy entries per Key Vault

_HSM_WIDE = ("/", "/keys")

LimitKey = tuple[str, ...]  # ("key", hsm, "/keys/k"), ("hsm-scope", hsm), ("roles", hsm), ...


@dataclass(frozen=True, slots=True)
class Limit:
    limit: int
    what: str  # "role assignments at /keys/k on contoso"
    unit: str  # "the limit per key"


def near_limit(count: int, limit: int) -> bool:
    """At or within 10% of the limit (at least one below it): worth a warning before it bites."""
    return count >= limit - max(1, limit // 10)


def _assignment_key(hsm: str, scope: str) -> LimitKey:
    s = scope.lower()
    return ("hsm-scope", hsm) if s in _HSM_WIDE else ("key", hsm, s)


def _subscription_key(scope: str) -> LimitKey | None:
    parts = [p for p in scope.split("/", 3) if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None  # management groups and the root have other limits, not modelled
    return ("subscription", parts[1].lower())


def limit_key(change: Change) -> LimitKey | None:
    """What a change's create or delete counts against, if anything."""
    if change.kind is Kind.ROLE_ASSIGNMENT:
        if change.plane is Plane.DATA:
            return _assignment_key(change.target.name, change.scope)
        return _subscription_key(change.scope)
    if change.kind is Kind.ROLE_DEFINITION and change.plane is Plane.DATA:
        return ("roles", change.target.name)
    if change.kind is Kind.ACCESS_POLICY:
        return ("vault", change.target.name)
    return None


def describe(key: LimitKey) -> Limit:
    kind, name = key[0], key[1]
    if kind == "hsm-scope":
        what = f"role assignments at HSM scope ('/' and '/keys' together) on {name}"
        return Limit(HSM_SCOPE_ASSIGNMENT_LIMIT, what, "the limit at HSM scope")
    if kind == "key":
        return Limit(
            KEY_SCOPE_ASSIGNMENT_LIMIT, f"role assignments at {key[2]} on {name}", "the limit per key"
        )
    if kind == "roles":
        return Limit(CUSTOM_ROLE_LIMIT, f"custom roles on {name}", "the limit per HSM")
    if kind == "subscription":
        what = f"Azure role assignments in subscription {name}"
        return Limit(SUBSCRIPTION_ASSIGNMENT_LIMIT, what, "the limit per subscription")
    return Limit(ACCESS_POLICY_LIMIT, f"access policies on vault {name}", "the limit per vault")


def live_counts(live: LiveState, keys: set[LimitKey]) -> Counter[LimitKey]:
    """How many of each of `keys` live state holds (only the HSMs, vaults, subscriptions asked)."""
    counts: Counter[LimitKey] = Counter()
    hsms = {k[1] for k in keys if k[0] in ("hsm-scope", "key", "roles")}
    for name in hsms & live.hsms.keys():
        hsm = live.hsms[name]
        for scope, n in Counter(a.scope for a in hsm.role_assignments).items():
            counts[_assignment_key(name, scope)] += n
        counts[("roles", name)] = len(hsm.role_definitions)
    if any(k[0] == "subscription" for k in keys):
        for arm in live.arm.role_assignments:
            if (key := _subscription_key(arm.scope)) is not None:
                counts[key] += 1
        for sub, total in live.arm.subscription_assignment_counts.items():
            key = ("subscription", sub.lower())
            counts[key] = max(counts[key], total)  # the whole subscription, when counted
    for name, vault in live.vaults.items():
        counts[("vault", name)] = len(vault.access_policies)
    return counts


@dataclass
class LimitOrder:
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def fit_limits(ordered: Sequence[Change], live: LiveState) -> LimitOrder:
    """`ordered` (make before break), with deletes moved ahead where a limit requires it."""
    creates: dict[LimitKey, list[int]] = {}
    deletes: dict[LimitKey, list[int]] = {}
    for i, c in enumerate(ordered):
        if c.action is Action.UPDATE or (key := limit_key(c)) is None:
            continue
        (creates if c.action is Action.CREATE else deletes).setdefault(key, []).append(i)
    out = LimitOrder(list(ordered))
    if not creates:
        return out  # nothing is added anywhere: no limit can be crossed (lint speaks of full scopes)
    counts = live_counts(live, set(creates))
    early: dict[int, int] = {}  # index of a delete -> index of the create it must precede
    for key in sorted(creates):
        limit, have = describe(key), counts[key]
        new, gone = creates[key], deletes.get(key, [])
        after = have + len(new) - len(gone)
        if after > limit.limit:
            out.refusals.append(
                f"{limit.what}: {have} now, {after} after this plan; {limit.unit} is {limit.limit}"
            )
            continue
        if near_limit(after, limit.limit):
            out.warnings.append(f"{limit.what}: {after} after this plan, {limit.unit} is {limit.limit}")
        excess = have + len(new) - limit.limit  # at the peak: after the creates, before the deletes
        if excess > 0:
            moved = gone[:excess]
            out.warnings.append(
                f"{limit.what}: {len(moved)} delete{'s' if len(moved) > 1 else ''} ordered before the "
                f"creates ({have} now + {len(new)} to create would exceed {limit.unit}, {limit.limit})"
            )
            note = f"deleted before the creates: {limit.what} would exceed {limit.unit} ({limit.limit})"
            for i in moved:
                early[i] = new[0]
                out.changes[i] = replace(ordered[i], reason=f"{ordered[i].reason}; {note}")
    if early:
        out.changes = _move_ahead(out.changes, early)
    return out


def _move_ahead(changes: list[Change], early: dict[int, int]) -> list[Change]:
    """Each delete in `early` placed right before the create it maps to; the rest keep their order."""
    before: dict[int, list[Change]] = {}
    for i in sorted(early):
        before.setdefault(early[i], []).append(changes[i])
    out: list[Change] = []
    for i, c in enumerate(changes):
        out.extend(before.get(i, ()))
        if i not in early:
            out.append(c)
    return out
