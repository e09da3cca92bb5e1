"""Principals given by display name or UPN: what to look up, and what the answers mean.

Pure: no I/O. `name_queries` says which principals need a lookup, a `Directory` answers each
query (Microsoft Graph in the live backend, a state file's `directory` for the fake one), and
`decide` turns the answers into ids or problems (missing, ambiguous, two keys on one object).
`hsmsync resolve` (commands/resolve.py) does the I/O around them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from hsmsync.core.model import Principal
from hsmsync.core.state_directory import DirectoryObject, PrincipalType

Field = Literal["name", "upn"]
_SIMILAR = 3


@dataclass(frozen=True, slots=True)
class NameQuery:
    """Look up one principal of the manifest (`key`) by its display name or its UPN."""

    key: str
    type: PrincipalType
    field: Field
    value: str

    def describe(self) -> str:
        if self.field == "upn":
            return f"no user with UPN '{self.value}'"
        return f"no {_kind(self.type)} named '{self.value}'"


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One Entra ID object as a lookup returns it."""

    id: str
    type: PrincipalType
    display_name: str
    upn: str | None = None

    def describe(self) -> str:
        who = f"'{self.display_name}'"
        return f"{self.id}  {who} <{self.upn}>" if self.upn else f"{self.id}  {who}"


@dataclass(frozen=True, slots=True)
class Found:
    """What the directory answered: exact matches, and close names it offered (for suggestions)."""

    matches: tuple[DirectoryEntry, ...]
    similar: tuple[DirectoryEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class NameProblem:
    key: str
    message: str
    field: str | None = None  # the principal's field the problem is about, if one


@dataclass(frozen=True, slots=True)
class Resolution:
    ids: dict[str, str]  # principal key -> object id, in the manifest's order
    problems: tuple[NameProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class Directory(Protocol):
    """Answers name queries (Graph, or a state file's directory)."""

    def find(self, query: NameQuery) -> Found: ...

    def close(self) -> None:
        """Release what the lookups held (Graph's HTTP session)."""
        ...


def _kind(principal_type: PrincipalType) -> str:
    return {"User": "user", "Group": "group", "ServicePrincipal": "service principal"}[principal_type]


def name_queries(principals: Mapping[str, Principal]) -> tuple[list[NameQuery], list[NameProblem]]:
    """The lookups the principals without `id` need, and those that cannot be looked up.

    Users are looked up by `upn` when given (it is unique), else by `name`; groups and service
    principals by `name`.
    """
    queries: list[NameQuery] = []
    problems: list[NameProblem] = []
    for key, p in principals.items():
        if p.id is not None:
            continue
        upn = (p.upn or "").strip()
        name = (p.name or "").strip()
        if p.type == "User" and upn:
            queries.append(NameQuery(key, p.type, "upn", upn))
        elif name:
            queries.append(NameQuery(key, p.type, "name", name))
        elif upn:
            problems.append(
                NameProblem(key, f"`upn` is for users; a {_kind(p.type)} is looked up by `name`", "upn")
            )
        else:
            problems.append(NameProblem(key, "no `id`, `name` or `upn`: nothing to look up"))
    return queries, problems


def _listing(entries: Iterable[DirectoryEntry]) -> str:
    return "".join(f"\n    - {e.describe()}" for e in entries)


def decide(
    queries: Sequence[NameQuery], found: Mapping[str, Found], pinned: Mapping[str, str] | None = None
) -> Resolution:
    """Answers -> ids. Exactly one match pins the id; none or several are problems listing the
    candidates; an id already held by another principal key (pinned or just found) is a problem."""
    owners = {object_id.lower(): key for key, object_id in (pinned or {}).items()}
    ids: dict[str, str] = {}
    problems: list[NameProblem] = []
    for q in queries:
        answer = found.get(q.key, Found(()))
        unique = {m.id.lower(): m for m in answer.matches}
        if not unique:
            hint = ""
            if answer.similar:
                hint = "; similar names in the directory:" + _listing(answer.similar)
            problems.append(NameProblem(q.key, f"{q.describe()} in the directory{hint}", q.field))
            continue
        if len(unique) > 1:
            what = f"UPN '{q.value}'" if q.field == "upn" else f"'{q.value}'"
            problems.append(
                NameProblem(
                    q.key,
                    f"{what} is ambiguous: {len(unique)} {_kind(q.type)} objects match; "
                    f"pin one with `id`:{_listing(unique.values())}",
                    q.field,
                )
            )
            continue
        object_id = next(iter(unique))
        other = owners.get(object_id)
        if other is not None:
            problems.append(
                NameProblem(
                    q.key, f"{object_id} is already principal '{other}' (the same object twice)", q.field
                )
            )
            continue
        owners[object_id] = q.key
        ids[q.key] = object_id
    return Resolution(ids, tuple(problems))


def directory_entries(objects: Iterable[DirectoryObject]) -> tuple[DirectoryEntry, ...]:
    return tuple(DirectoryEntry(o.id.lower(), o.type, o.display_name, o.user_principal_name) for o in objects)


class StateDirectory:
    """A `Directory` over a known list of objects (a state file's `directory`).

    Matching is case-insensitive, as Entra ID's `eq`; close names of the same type are offered
    for names that match nothing.
    """

    def __init__(self, entries: Iterable[DirectoryEntry]) -> None:
        self.entries = tuple(entries)

    def close(self) -> None:
        """A list in memory holds nothing open."""

    def find(self, query: NameQuery) -> Found:
        same_type = [e for e in self.entries if e.type == query.type]

        def value(e: DirectoryEntry) -> str:
            return (e.upn if query.field == "upn" else e.display_name) or ""

        wanted = query.value.casefold()
        matches = tuple(e for e in same_type if value(e).casefold() == wanted)
        if matches:
            return Found(matches)
        by_value: dict[str, list[DirectoryEntry]] = {}
        for e in same_type:
            if value(e):
                by_value.setdefault(value(e).casefold(), []).append(e)
        close = difflib.get_close_matches(wanted, list(by_value), n=_SIMILAR, cutoff=0.6)
        return Found((), tuple(e for c in close for e in by_value[c]))


__all__ = [
    "Directory",
    "DirectoryEntry",
    "Found",
    "NameProblem",
    "NameQuery",
    "Resolution",
    "StateDirectory",
    "decide",
    "directory_entries",
    "name_queries",
]
