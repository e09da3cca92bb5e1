"""Group membership as data: who is in which group, directly or through other groups, and how.

Built from the state's `directory` (the state file's section on the fake path; Microsoft Graph's
`transitiveMembers` and PIM for Groups schedules on the live path). Pure: no clock; an active PIM
membership is active whatever its end, the end is only shown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from hsmsync.core.state_directory import DirectoryObject


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
        """Every transitive member of `group_id`, breadth first, with its shortest path of each
        kind: one path per member and (eligible somewhere on it, standing all the way), so a
        member reached both directly and through PIM shows both, and a deep or diamond-shaped
        nesting stays linear. A membership cycle ends (each kind of member is seen once), so
        there is no bound on depth: Azure follows nesting at any depth."""
        start = group_id.lower()
        seen: set[tuple[str, bool, bool]] = set()
        queue: deque[tuple[str, tuple[Hop, ...]]] = deque([(start, ())])
        while queue:
            group, above = queue.popleft()
            for member_id, hop in self._members.get(group, ()):
                hops = (hop, *above)
                kind = (member_id, any(h.eligible for h in hops), all(h.end is None for h in hops))
                if member_id == start or kind in seen:
                    continue
                seen.add(kind)
                yield Member(member_id, self.name_of(member_id), self.type_of(member_id), hops)
                if self.type_of(member_id) == "Group":
                    queue.append((member_id, hops))


__all__ = ["Directory", "Hop", "Member"]
