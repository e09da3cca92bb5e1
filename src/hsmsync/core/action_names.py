"""What a person types for an action (`sign`, `keys/sign/action`, the full name) -> the data action."""

from __future__ import annotations

import difflib

from hsmsync.core.catalog import DATA_ACTION_PREFIX
from hsmsync.core.data_actions import data_action_vocabulary, normalize_data_action
from hsmsync.core.errors import HsmsyncError

# Words people use that are not a segment of any action name.
_ALIASES = {"purge": "keys/deletedKeys/delete", "assign": "roleAssignments/write/action"}


def _short_vocabulary() -> dict[str, str]:
    """Lower-cased short name (`keys/sign/action`) -> full service spelling."""
    cut = len(DATA_ACTION_PREFIX)
    return {k[cut:]: v for k, v in data_action_vocabulary().items()}


def _verb(verb: str, short: dict[str, str]) -> str | None:
    lowered = _ALIASES.get(verb, verb).lower()
    if lowered in short:
        return short[lowered]
    # A bare verb means a key operation when one exists (`sign`, `delete`), else any action
    # with that segment (`download` -> securitydomain/download/action), `/action` forms first.
    for candidate in (f"keys/{lowered}/action", f"keys/{lowered}"):
        if candidate in short:
            return short[candidate]
    matches = sorted(
        (s for s in short if lowered in s.split("/")),
        key=lambda s: (not s.endswith("/action"), len(s), s),
    )
    return short[matches[0]] if matches else None


def resolve_action(text: str) -> str:
    """The service's full spelling of one data action; HsmsyncError with suggestions if unknown."""
    raw = text.strip()
    if not raw:
        raise HsmsyncError("no action given (e.g. sign, keys/rotate/action)")
    if "*" in raw:
        raise HsmsyncError(f"'{text}': name one action, not a wildcard")
    short = _short_vocabulary()
    if "/" not in raw:
        found = _verb(raw, short)
        if found:
            return found
        verbs = sorted({seg for s in short for seg in s.split("/") if seg != "action"} | set(_ALIASES))
        close = difflib.get_close_matches(raw.lower(), verbs, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise HsmsyncError(f"unknown action '{text}'{hint}")
    spelled, error = normalize_data_action(raw)
    if error is None:
        return spelled
    # `keys/sign` for `keys/sign/action`: accept the form people remember.
    with_suffix, suffix_error = normalize_data_action(raw.rstrip("/") + "/action")
    if suffix_error is None:
        return with_suffix
    raise HsmsyncError(error)
