"""Built-in roles an HSM lists that hsmsync's shipped catalog lacks (issue 14 §4).

The service adds built-in roles (a preview role, a new one) before any catalog ships them. A team
entry naming a role the catalog does not know, and that is no near-miss of one it does, is kept
aside at compile time (with a warning; `--strict` refuses it) and resolved when planning, against
the role definitions the HSM itself lists: used as listed, or an error naming the entry.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace

from hsmsync.core.catalog import RoleIndex
from hsmsync.core.desired import DesiredAssignment, DesiredState, PrincipalInfo
from hsmsync.core.errors import ManifestError, Problem
from hsmsync.core.plan import Plane
from hsmsync.core.state import LiveState

_TYPO_CUTOFF = 0.85  # this close to a known name, an unknown one is a typo, not a new role
_SHORT_PREFIX = "managed hsm "  # roles are referred to with or without it (core/catalog.py)


@dataclass(frozen=True, slots=True)
class ListedRoleRef:
    """A data-plane team entry whose role only the HSM can say (see module)."""

    hsm: str
    reference: str
    scope: str
    members: tuple[PrincipalInfo, ...]
    source: str  # "team <key>"
    loc: tuple[str | int, ...]  # the team entry


def is_near_miss(reference: str, index: RoleIndex) -> bool:
    """Is `reference` a likely typo of a role the index knows?"""
    names = [n.lower() for n in index.names]
    names += [n.removeprefix(_SHORT_PREFIX) for n in names if n.startswith(_SHORT_PREFIX)]
    return bool(difflib.get_close_matches(reference.strip().lower(), names, n=1, cutoff=_TYPO_CUTOFF))


# A built-in Managed HSM role's full name: a mangled GUID or custom role key never passes for one.
_BUILTIN_NAME = re.compile(r"(?i)^managed hsm( [a-z0-9()\-]+)+$")


def could_be_listed(reference: str, index: RoleIndex) -> bool:
    """Is `reference` a built-in role's full name the catalog lacks (and no typo of a known one)?"""
    return bool(_BUILTIN_NAME.match(reference)) and not is_near_miss(reference, index)


def listed_role_warning(ref: ListedRoleRef) -> str:
    where = ".".join(str(x) for x in ref.loc)
    return (
        f"{where}: role '{ref.reference}' is not in hsmsync's catalog; it is used as HSM '{ref.hsm}' "
        "lists it (planning checks that it does); --strict refuses it"
    )


def resolve_listed_roles(desired: DesiredState, live: LiveState) -> DesiredState:
    """`desired` with each kept-aside entry resolved against its HSM's listed built-in roles;
    ManifestError naming the entries no HSM lists."""
    if not desired.listed_roles:
        return desired
    problems: list[Problem] = []
    assignments = {a.key: a for a in desired.assignments}
    for ref in desired.listed_roles:
        hsm = live.hsms.get(ref.hsm)
        index = RoleIndex((hsm.builtin_role_definitions or ()) if hsm is not None else ())
        role = index.find(ref.reference)
        if role is None:
            close = index.suggestions(ref.reference)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            problems.append(
                Problem(
                    (*ref.loc, "role"),
                    f"unknown role '{ref.reference}': neither hsmsync's catalog nor HSM '{ref.hsm}' "
                    f"lists it{hint}",
                )
            )
            continue
        for p in ref.members:
            a = DesiredAssignment(
                Plane.DATA, ref.hsm, ref.scope, role.name, role.role_name, p, (ref.source,), ref.loc
            )
            existing = assignments.get(a.key)
            assignments[a.key] = replace(existing, sources=(*existing.sources, ref.source)) if existing else a
    if problems:
        raise ManifestError(problems)
    ordered = tuple(sorted(assignments.values(), key=lambda a: a.key))
    return replace(desired, assignments=ordered, listed_roles=())
