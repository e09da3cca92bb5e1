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
    known: dict[str, dict[str, str] | None] = {}  # HSM -> lower-cased key name -> key name
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    data = Plane.DATA
    for a in desired.assignments:
        if a.plane is not data:
            continue
        scope = a.key.scope  # lower-cased once, when the manifest was compiled
        if not scope.startswith(_KEY_SCOPE) or (a.target, scope) in seen:
            continue
        seen.add((a.target, scope))
        if a.target not in known:
            hsm = live.hsms.get(a.target)
            keys = hsm.keys if hsm is not None else None
            # Key names compare case-insensitively, as the service does.
            known[a.target] = None if keys is None else {k.lower(): k for k in keys}
        existing = known[a.target]
        if existing is None or scope[len(_KEY_SCOPE) :] in existing:
            continue
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
