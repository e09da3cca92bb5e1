"""The Managed HSM data-action vocabulary, for validating custom roles."""

from __future__ import annotations

import difflib
import re
from functools import cache

from hsmsync.core.catalog import DATA_ACTION_PREFIX, builtin_data_roles

# The service's DataAction enum (REST spec 7.4 .. 2025-07-01), plus actions the live service uses
# in its built-in roles (keys/rotate, keys/derive, settings/*): the enum is modelAsString.
_SPEC_ACTIONS = (
    "keys/read/action",
    "keys/write/action",
    "keys/deletedKeys/read/action",
    "keys/deletedKeys/recover/action",
    "keys/backup/action",
    "keys/restore/action",
    "roleAssignments/delete/action",
    "roleAssignments/read/action",
    "roleAssignments/write/action",
    "roleDefinitions/read/action",
    "roleDefinitions/write/action",
    "roleDefinitions/delete/action",
    "keys/encrypt/action",
    "keys/decrypt/action",
    "keys/wrap/action",
    "keys/unwrap/action",
    "keys/sign/action",
    "keys/verify/action",
    "keys/create",
    "keys/delete",
    "keys/export/action",
    "keys/release/action",
    "keys/import/action",
    "keys/deletedKeys/delete",
    "securitydomain/download/action",
    "securitydomain/download/read",
    "securitydomain/upload/action",
    "securitydomain/upload/read",
    "securitydomain/transferkey/read",
    "backup/start/action",
    "restore/start/action",
    "backup/status/action",
    "restore/status/action",
    "rng/action",
    "keys/rotate/action",
    "keys/derive/action",
)


@cache
def data_action_vocabulary() -> dict[str, str]:
    """Lower-cased action -> the service's spelling."""
    known = {DATA_ACTION_PREFIX + a for a in _SPEC_ACTIONS}
    known.update(a for r in builtin_data_roles() for b in r.permissions for a in b.data_actions)
    return {a.lower(): a for a in known}


# The service's shape of a Managed HSM data action: name segments, then a verb. New actions
# appear before any catalog lists them (as the preview "Managed HSM EKM Administrator"'s did).
_SERVICE_PATTERN = re.compile(
    r"(?i)^microsoft\.keyvault/managedhsm(?:/[a-z][a-z0-9]*)+/(?:read|write|delete|action)$"
)
_TYPO_CUTOFF = 0.85  # this close to a known action, an unknown one is a typo, not a new action


def is_known_data_action(action: str) -> bool:
    """Is it in the vocabulary (the service's enum and the built-in roles' actions)?"""
    return action.lower() in data_action_vocabulary()


def _new_action(full: str, vocab: dict[str, str]) -> str | None:
    """`full` as written when it follows the service's pattern and is no near-miss of a known
    action (compared without the shared prefix, which would make every pair look alike)."""
    if not _SERVICE_PATTERN.match(full) or (full + "/action").lower() in vocab:
        return None  # `ekm/read` for the known `ekm/read/action` is the suffix forgotten
    cut = len(DATA_ACTION_PREFIX)
    short = [k[cut:] for k in vocab if k.startswith(DATA_ACTION_PREFIX.lower())]
    if difflib.get_close_matches(full[cut:].lower(), short, n=1, cutoff=_TYPO_CUTOFF):
        return None
    return DATA_ACTION_PREFIX + full[cut:]


def normalize_data_action(action: str, *, open_vocabulary: bool = False) -> tuple[str, str | None]:
    """(service spelling, None) or ("", error message). Accepts the short form `keys/sign/action`.

    With `open_vocabulary`, an action the vocabulary lacks but that follows the service's pattern
    (and is not a near-miss of a known one) is accepted as written: check `is_known_data_action`
    to warn about it."""
    raw = action.strip()
    full = raw if raw.lower().startswith("microsoft.keyvault/") else DATA_ACTION_PREFIX + raw.lstrip("/")
    vocab = data_action_vocabulary()
    if "*" in full:
        prefix = full.split("*", 1)[0].lower()
        if prefix.startswith(DATA_ACTION_PREFIX.lower()) or prefix == "microsoft.keyvault/":
            return full, None
        return "", f"'{action}' is not a Managed HSM data action"
    spelled = vocab.get(full.lower())
    if spelled is not None:
        return spelled, None
    if open_vocabulary and (new := _new_action(full, vocab)) is not None:
        return new, None
    short = {k[len(DATA_ACTION_PREFIX) :]: v for k, v in vocab.items()}
    close = difflib.get_close_matches(
        raw.lower().removeprefix(DATA_ACTION_PREFIX.lower()), list(short), n=3, cutoff=0.6
    )
    hint = f"; did you mean {', '.join(repr(short[c]) for c in close)}?" if close else ""
    return "", f"unknown data action '{action}'{hint}"
