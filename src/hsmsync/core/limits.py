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

LimitKey = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Limit:
    key: LimitKey
    limit: int
    what: str  # "role assignments at /keys/k on contoso"
    unit: str  # "the limit per key"


def near_limit(count: int, limit: int) -> bool:
    """At or within 10% of the limit (at least one below it): worth a warning before it bites."""
    return count >= limit - max(1, limit // 10)


def hsm_assignment_limit(hsm: str, scope: str) -> Limit:
    s = scope.lower()
    if s in _HSM_WIDE:
        what = f"role assignments at HSM scope ('/' and '/keys' together) on {hsm}"
        return Limit(("hsm-scope", hsm), HSM_SCOPE_ASSIGNMENT_LIMIT, what, "the limit at HSM scope")
    return Limit(
        ("key", hsm, s),
        KEY_SCOPE_ASSIGNMENT_LIMIT,
        f"role assignments at {scope} on {hsm}",
        "the limit per key",
    )


def custom_role_limit(hsm: str) -> Limit:
    return Limit(("roles", hsm), CUSTOM_ROLE_LIMIT, f"custom roles on {hsm}", "the limit per HSM")


def _subscription_limit(scope: str) -> Limit | None:
    parts = [p for p in scope.split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None  # management groups and the root have other limits, not modelled
    sub = parts[1].lower()
    what = f"Azure role assignments in subscription {sub}"
    return Limit(("subscription", sub), SUBSCRIPTION_ASSIGNMENT_LIMIT, what, "the limit per subscription")


def _vault_limit(target: str) -> Limit:
    name = target.removeprefix("vault:")
    return Limit(
        ("vault", name), ACCESS_POLICY_LIMIT, f"access policies on vault {name}", "the limit per vault"
    )


def limit_of(change: Change) -> Limit | None:
    """The limit a change's create or delete counts against, if any."""
    if change.kind is Kind.ROLE_ASSIGNMENT:
        if change.plane is Plane.DATA:
            return hsm_assignment_limit(change.target, change.scope)
        return _subscription_limit(change.scope)
    if change.kind is Kind.ROLE_DEFINITION and change.plane is Plane.DATA:
        return custom_role_limit(change.target)
    if change.kind is Kind.ACCESS_POLICY:
        return _vault_limit(change.target)
    return None


def live_counts(live: LiveState) -> tuple[Counter[LimitKey], dict[LimitKey, Limit]]:
    """How many of each limited thing live state holds, and the limit of each."""
    counts: Counter[LimitKey] = Counter()
    limits: dict[LimitKey, Limit] = {}

    def count(limit: Limit | None) -> None:
        if limit is not None:
            counts[limit.key] += 1
            limits.setdefault(limit.key, limit)

    for name, hsm in live.hsms.items():
        for a in hsm.role_assignments:
            count(hsm_assignment_limit(name, a.scope))
        for _ in hsm.role_definitions:
            count(custom_role_limit(name))
    for arm in live.arm.role_assignments:
        count(_subscription_limit(arm.scope))
    for sub, total in live.arm.subscription_assignment_counts.items():
        if (limit := _subscription_limit(f"/subscriptions/{sub}")) is not None:
            counts[limit.key] = max(counts[limit.key], total)  # the whole subscription, when counted
            limits.setdefault(limit.key, limit)
    for name, vault in live.vaults.items():
        for _ in vault.access_policies:
            count(_vault_limit(f"vault:{name}"))
    return counts, limits


@dataclass
class LimitOrder:
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def fit_limits(ordered: Sequence[Change], live: LiveState) -> LimitOrder:
    """`ordered` (make before break), with deletes moved ahead where a limit requires it."""
    counts, limits = live_counts(live)
    creates: dict[LimitKey, list[int]] = {}
    deletes: dict[LimitKey, list[int]] = {}
    for i, c in enumerate(ordered):
        if (limit := limit_of(c)) is None or c.action is Action.UPDATE:
            continue
        limits.setdefault(limit.key, limit)
        (creates if c.action is Action.CREATE else deletes).setdefault(limit.key, []).append(i)
    out = LimitOrder(list(ordered))
    early: dict[int, int] = {}  # index of a delete -> index of the create it must precede
    for key in sorted(limits):
        limit, have = limits[key], counts[key]
        new, gone = creates.get(key, []), deletes.get(key, [])
        if not new:
            continue  # the plan adds nothing here: lint speaks of full scopes
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
            for i in moved:
                early[i] = new[0]
                note = f"deleted before the creates: {limit.what} would exceed {limit.unit} ({limit.limit})"
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
