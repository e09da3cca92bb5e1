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
    out: dict[tuple[str, str], str] = {}
    for a in desired.assignments:
        if a.plane is not Plane.DATA or not a.scope.lower().startswith(_KEY_SCOPE):
            continue
        hsm = live.hsms.get(a.target)
        if hsm is None or hsm.keys is None or (a.target, a.scope.lower()) in out:
            continue
        key = a.scope[len(_KEY_SCOPE) :]
        existing = {k.lower(): k for k in hsm.keys}  # key names compare case-insensitively
        if key.lower() in existing:
            continue
        close = difflib.get_close_matches(key.lower(), sorted(existing), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(existing[c] for c in close)}?" if close else ""
        where = Problem(a.loc, "").field if a.loc else ", ".join(a.sources)
        out[(a.target, a.scope.lower())] = (
            f"{a.target}: {where}: scope {a.scope} names no existing key{hint} "
            f"(the HSM has {len(existing)} key{'' if len(existing) == 1 else 's'}; "
            "an assignment there grants nothing until a key of that name exists)"
        )
    return list(out.values())
