"""The directory the effective-access answers need, read from Microsoft Graph: the groups that
hold assignments, their members (transitively, with the nesting kept) and their PIM for Groups
memberships, as `DirectoryObject`s (what the state file's `directory` holds on the fake path).

Calls: `POST directoryObjects/getByIds` (which assignees are groups), `GET groups/{id}/
transitiveMembers` per group (and per nested group, to know which group a member is in
directly), `GET identityGovernance/privilegedAccess/group/{eligibility|assignment}Schedules
?$filter=groupId eq '{id}'` per group. Permissions: Directory.Read.All (getByIds), GroupMember.Read.All,
PrivilegedEligibilitySchedule.Read.AzureADGroup and PrivilegedAssignmentSchedule.Read.AzureADGroup.
Any Graph failure is an error naming the permission: an answer that silently left out members
or eligible memberships would under-report access.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from hsmsync.backends.azure.graph import GraphDirectory, directory_object, odata_string
from hsmsync.core.errors import BackendError
from hsmsync.core.state_directory import DirectoryObject, PimMembership

MAX_GROUPS = 500  # a bound on the walk; beyond it the answer would be partial, so it is an error
_PIM_BASE = "/v1.0/identityGovernance/privilegedAccess/group/"


def _members(graph: GraphDirectory, group: str) -> list[DirectoryObject]:
    path = f"/v1.0/groups/{quote(group, safe='')}/transitiveMembers?$select=id,displayName,userPrincipalName"
    items = graph.collect(path, f"list the members of group {group}", "GroupMember.Read.All")
    return [o for o in (directory_object(i) for i in items) if o is not None]


def _schedule_time(item: dict[str, Any], which: str) -> datetime | None:
    """`scheduleInfo.startDateTime` (which="start") or `.expiration.endDateTime` ("end")."""
    info = item.get("scheduleInfo")
    if not isinstance(info, dict):
        return None
    holder = info if which == "start" else info.get("expiration")
    text = holder.get(f"{which}DateTime") if isinstance(holder, dict) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _pim(graph: GraphDirectory, group: str) -> list[tuple[str, PimMembership]]:
    """(principal id, membership) for the group's eligible and active PIM memberships."""
    out: list[tuple[str, PimMembership]] = []
    flt = quote(f"groupId eq {odata_string(group)}", safe="")
    for kind, status, permission in (
        ("eligibilitySchedules", "eligible", "PrivilegedEligibilitySchedule.Read.AzureADGroup"),
        ("assignmentSchedules", "active", "PrivilegedAssignmentSchedule.Read.AzureADGroup"),
    ):
        what = f"list the PIM {status} memberships of group {group}"
        for item in graph.collect(f"{_PIM_BASE}{kind}?$filter={flt}", what, permission):
            principal = item.get("principalId")
            if item.get("accessId", "member") != "member" or not isinstance(principal, str):
                continue  # ownership is not membership
            membership = PimMembership(
                group=group,
                status=status,
                start=_schedule_time(item, "start"),
                end=_schedule_time(item, "end"),
            )
            out.append((principal.lower(), membership))
    return out


def read_directory(graph: GraphDirectory, assignees: Iterable[str]) -> tuple[DirectoryObject, ...]:
    """The directory objects behind `assignees`: their groups' members and PIM memberships."""
    objects = {o.id.lower(): o for o in graph.get_by_ids(assignees)}
    todo = sorted(i for i, o in objects.items() if o.type == "Group")
    transitive: dict[str, set[str]] = {}
    pim: dict[str, list[PimMembership]] = {}
    while todo:
        group = todo.pop()
        if group in transitive:
            continue
        if len(transitive) >= MAX_GROUPS:
            raise BackendError(f"more than {MAX_GROUPS} groups hold assignments or nest in them")
        members = _members(graph, group)
        transitive[group] = {m.id.lower() for m in members}
        for m in members:
            objects.setdefault(m.id.lower(), m)
            if m.type == "Group":
                todo.append(m.id.lower())
        for principal, membership in _pim(graph, group):
            pim.setdefault(principal, []).append(membership)
    missing = sorted(set(pim) - set(objects))
    if missing:
        objects.update({o.id.lower(): o for o in graph.get_by_ids(missing)})
    return _linked(objects, transitive, pim)


def _linked(
    objects: dict[str, DirectoryObject], transitive: dict[str, set[str]], pim: dict[str, list[PimMembership]]
) -> tuple[DirectoryObject, ...]:
    """Each object with the groups it is in directly: a member of G that is also a member of a
    group nested in G is taken to be in G through that group (transitiveMembers does not say
    which); an active PIM membership replaces the plain one, so its end is kept. Only a group
    strictly below G counts: in a membership cycle (G also in the nested group) each group holds
    the other's members, and taking them as the other's only would leave them in neither."""
    member_of: dict[str, set[str]] = {}
    for group, members in transitive.items():
        nested = {
            m
            for m in members
            if objects.get(m) is not None
            and objects[m].type == "Group"
            and group not in transitive.get(m, set())
        }
        for m in members:
            if not any(m in transitive.get(n, set()) for n in nested if n != m):
                member_of.setdefault(m, set()).add(group)
    out = []
    for object_id, o in sorted(objects.items()):
        memberships = tuple(sorted(pim.get(object_id, []), key=lambda p: (p.group, p.status)))
        active = {p.group for p in memberships if p.status == "active"}
        groups = tuple(sorted(member_of.get(object_id, set()) - active))
        out.append(o.model_copy(update={"member_of": groups, "pim": memberships}))
    return tuple(out)


__all__ = ["MAX_GROUPS", "read_directory"]
