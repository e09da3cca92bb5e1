"""Role references are unambiguous: no custom role may answer to a name another role answers to.

A team's `role:` is a full name, a short name ("Managed HSM " left out), a GUID, or the key of a
custom role. If a custom role's key or display name equalled any of those of another role
(built-in or custom, any case, whitespace and Unicode forms aside), one line could silently
re-target every reference: so each such custom role is an error here, where it is declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hsmsync.core.errors import Problem
from hsmsync.core.names import fold_text
from hsmsync.core.state import RoleDefinition

Loc = tuple[str | int, ...]
SHORT_PREFIX = "managed hsm "


@dataclass(frozen=True, slots=True)
class DeclaredRole:
    """A custom role of the manifest, as far as references to it go."""

    loc: Loc  # ("roles", key) or ("arm_roles", key)
    key: str
    name: str  # display name
    guid: str


def _names(display: str) -> list[str]:
    """The names a role answers to: its display name and, for "Managed HSM X", the short name X."""
    folded = fold_text(display)
    if folded.startswith(SHORT_PREFIX) and len(folded) > len(SHORT_PREFIX):
        return [folded, folded[len(SHORT_PREFIX) :]]
    return [folded]


def role_name_conflicts(
    declared: Sequence[DeclaredRole], builtins: Iterable[RoleDefinition], *, kind: str
) -> list[Problem]:
    """A problem for each custom role whose key or name another role already answers to."""
    owners: dict[str, tuple[Loc, str]] = {}  # folded reference -> (owner, what it is)
    for b in builtins:
        for n in _names(b.role_name):
            owners.setdefault(n, (("builtin", b.name), f"the name of a built-in {kind} ('{b.role_name}')"))
        owners.setdefault(
            b.name.lower(), (("builtin", b.name), f"the GUID of a built-in {kind} ('{b.role_name}')")
        )
    for d in declared:
        owners.setdefault(d.guid.lower(), (d.loc, f"the GUID of custom role '{d.key}'"))
    problems: list[Problem] = []
    for d in declared:
        references = [((*d.loc,), d.key, f"the key of custom role '{d.key}'")]
        references += [((*d.loc, "name"), n, f"the name of custom role '{d.key}'") for n in _names(d.name)]
        for loc, reference, what in references:
            owner, taken = owners.setdefault(fold_text(reference), (d.loc, what))
            if owner != d.loc:
                written = d.key if loc == d.loc else d.name
                message = f"'{written}' is {taken}; a role reference to it would be ambiguous: rename it"
                problems.append(Problem(loc, message, about_key=loc == d.loc))
                break
    return problems
