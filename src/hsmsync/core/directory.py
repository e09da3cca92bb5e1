"""Group membership as data: who is in which group, directly or through other groups, and how.

Built from the state's `directory` (the state file's section on the fake path; Microsoft Graph's
`transitiveMembers` and PIM for Groups schedules on the live path). Pure: no clock; an active PIM
membership is active whatever its end, the end is only shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from hsmsync.core.state import DirectoryObject


@dataclass(frozen=True, slots=True)
class Hop:
    """One membership step: the member is in `group`, standing, PIM-active until `end`, or only
    PIM-eligible (it holds nothing through this step until it activates it)."""

    group_id: str
    group: str  # display name, or the object id when the directory does not name it
    eligible: bool = False
    end: datetime | None = None
    pim: bool = False  # the step is a PIM for Groups membership (active or eligible)

    def describe(self) -> str:
        if self.eligible:
            how = "eligible (PIM)"
        elif self.pim:
            how = f"active (PIM) until {self.end.isoformat()}" if self.end else "active (PIM, permanent)"
        else:
            how = "member"
        return f"group {self.group} [{how}]"


@dataclass(frozen=True, slots=True)
class Member:
    """A transitive member of a group and the chain of hops from it up to that group."""

    id: str
    name: str
    type: str  # User | Group | ServicePrincipal | Unknown
    hops: tuple[Hop, ...]  # the first hop is the member's own group, the last the group asked about

    @property
    def eligible(self) -> bool:
        return any(h.eligible for h in self.hops)

    @property
    def standing(self) -> bool:
        """Every hop is a permanent membership (not PIM-eligible, not PIM-active until an end)."""
        return all(not h.eligible and h.end is None for h in self.hops)


_MAX_DEPTH = 32  # Entra nests groups; a cycle in a hand-written state file must not loop


@dataclass(frozen=True)
class Directory:
    """Entra ID objects and their memberships, indexed for member lookups."""

    objects: dict[str, DirectoryObject] = field(default_factory=dict)
    # group id -> (member id, the hop from the member into the group)
    _members: dict[str, list[tuple[str, Hop]]] = field(default_factory=dict)

    @classmethod
    def of(cls, objects: Iterable[DirectoryObject] | None) -> Directory:
        by_id = {o.id.lower(): o for o in objects or ()}
        members: dict[str, list[tuple[str, Hop]]] = {}

        def name(group_id: str) -> str:
            o = by_id.get(group_id)
            return o.display_name if o is not None and o.display_name else group_id

        for o in by_id.values():
            for g in o.member_of:
                members.setdefault(g.lower(), []).append((o.id.lower(), Hop(g.lower(), name(g.lower()))))
            for p in o.pim:
                group = p.group.lower()
                hop = Hop(group, name(group), eligible=p.status == "eligible", end=p.end, pim=True)
                members.setdefault(group, []).append((o.id.lower(), hop))
        for listed in members.values():
            listed.sort(key=lambda m: (m[0], m[1].eligible, m[1].end is not None))
        return cls(by_id, members)

    def name_of(self, object_id: str) -> str:
        o = self.objects.get(object_id.lower())
        return o.display_name if o is not None and o.display_name else object_id.lower()

    def type_of(self, object_id: str) -> str:
        o = self.objects.get(object_id.lower())
        return o.type if o is not None else "Unknown"

    def members(self, group_id: str) -> Iterator[Member]:
        """Every transitive member of `group_id` with its path, once per distinct path."""
        yield from self._walk(group_id.lower(), (), frozenset({group_id.lower()}))

    def _walk(self, group: str, above: tuple[Hop, ...], seen: frozenset[str]) -> Iterator[Member]:
        if len(above) >= _MAX_DEPTH:
            return
        for member_id, hop in self._members.get(group, ()):
            hops = (hop, *above)
            yield Member(member_id, self.name_of(member_id), self.type_of(member_id), hops)
            if member_id not in seen and self.type_of(member_id) == "Group":
                yield from self._walk(member_id, hops, seen | {member_id})

    def groups_of(self, object_id: str) -> frozenset[str]:
        """Every group `object_id` is in, transitively, through any membership (eligible too)."""
        wanted = object_id.lower()
        return frozenset(g for g in self._members if any(m.id == wanted for m in self.members(g)))


__all__ = ["Directory", "Hop", "Member"]
