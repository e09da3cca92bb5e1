"""Per-key scopes that name no existing key (`/keys/card-signinng`): said at plan time, with the
closest existing key names. An assignment there grants nothing today, while the real key's
assignment may be the one the plan deletes.

Only where live state lists the HSM's keys completely (`HsmState.keys` is not None): a backend
that did not list them all (principal discovery) cannot tell, and guessing would mislead.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable

from hsmsync.core.desired import DesiredState
from hsmsync.core.errors import Problem
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.state import LiveState

_KEY_SCOPE = "/keys/"


def missing_key_warnings(desired: DesiredState, live: LiveState, changes: Iterable[Change] = ()) -> list[str]:
    """One line per declared key scope whose key the HSM does not have, with close names, and
    how many assignments `changes` delete at those close keys (often the one the typo replaces)."""
    deletes: Counter[tuple[str, str]] = Counter(
        (c.target.name, c.scope.lower())
        for c in changes
        if c.plane is Plane.DATA and c.kind is Kind.ROLE_ASSIGNMENT and c.action is Action.DELETE
    )
    data = Plane.DATA
    # Scopes are lower-cased once, when the manifest was compiled. Found in one pass over the
    # distinct (HSM, scope) pairs; the assignments are walked again only when one is missing.
    pairs = {(a.target, a.key.scope) for a in desired.assignments if a.plane is data}
    known: dict[str, dict[str, str] | None] = {}  # HSM -> lower-cased key name -> key name
    for target in {target for target, _ in pairs}:
        hsm = live.hsms.get(target)
        keys = hsm.keys if hsm is not None else None
        # Key names compare case-insensitively, as the service does.
        known[target] = None if keys is None else {k.lower(): k for k in keys}
    missing = {
        (target, scope)
        for target, scope in pairs
        if scope.startswith(_KEY_SCOPE)
        and (existing := known[target]) is not None
        and scope[len(_KEY_SCOPE) :] not in existing
    }
    out: list[str] = []
    for a in desired.assignments if missing else ():
        if a.plane is not data or (a.target, a.key.scope) not in missing:
            continue
        missing.discard((a.target, a.key.scope))  # said once, at its first declaration
        existing = known[a.target]
        assert existing is not None  # (only HSMs whose keys were listed have missing scopes)
        where = Problem(a.loc, "").field if a.loc else ", ".join(a.sources)
        out.append(_warning(a.target, a.scope, existing, where, deletes))
    return out


def _warning(
    hsm: str, scope: str, existing: dict[str, str], where: str, deletes: Counter[tuple[str, str]]
) -> str:
    key = scope[len(_KEY_SCOPE) :].lower()
    close = difflib.get_close_matches(key, list(existing), n=3, cutoff=0.6) if existing else []
    hint = f"; did you mean {', '.join(existing[c] for c in close)}?" if close else ""
    count = f"{len(existing)} key{'' if len(existing) == 1 else 's'}"
    gone = [(existing[c], n) for c in close if (n := deletes[(hsm, _KEY_SCOPE + c)])]
    also = "".join(f"; this plan deletes {n} assignment{'' if n == 1 else 's'} at /keys/{k}" for k, n in gone)
    return (
        f"{hsm}: {where}: scope {scope} names no existing key{hint} (the HSM has {count}; "
        f"an assignment there grants nothing until a key of that name exists{also})"
    )
