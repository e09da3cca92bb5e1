"""Per-key scopes that name no existing key (`/keys/card-signinng`): said at plan time, with the
closest existing key names. An assignment there grants nothing today, while the real key's
assignment may be the one the plan deletes.

Only where live state lists the HSM's keys completely (`HsmState.keys` is not None): a backend
that did not list them all (principal discovery) cannot tell, and guessing would mislead.
"""

from __future__ import annotations

import difflib

from hsmsync.core.desired import DesiredState
from hsmsync.core.errors import Problem
from hsmsync.core.plan import Plane
from hsmsync.core.state import LiveState

_KEY_SCOPE = "/keys/"


def missing_key_warnings(desired: DesiredState, live: LiveState) -> list[str]:
    """One line per declared key scope whose key the HSM does not have, with close names."""
    known: dict[str, dict[str, str] | None] = {}  # HSM -> lower-cased key name -> key name
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    for a in desired.assignments:
        scope = a.scope.lower()
        if a.plane is not Plane.DATA or not scope.startswith(_KEY_SCOPE) or (a.target, scope) in seen:
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
        out.append(
            _warning(a.target, a.scope, existing, Problem(a.loc, "").field if a.loc else ", ".join(a.sources))
        )
    return out


def _warning(hsm: str, scope: str, existing: dict[str, str], where: str) -> str:
    key = scope[len(_KEY_SCOPE) :].lower()
    close = difflib.get_close_matches(key, list(existing), n=3, cutoff=0.6) if existing else []
    hint = f"; did you mean {', '.join(existing[c] for c in close)}?" if close else ""
    count = f"{len(existing)} key{'' if len(existing) == 1 else 's'}"
    return (
        f"{hsm}: {where}: scope {scope} names no existing key{hint} (the HSM has {count}; "
        "an assignment there grants nothing until a key of that name exists)"
    )
