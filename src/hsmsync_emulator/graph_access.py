"""Microsoft Graph's group membership and PIM for Groups reads, over the state's `directory`.

Served (separate from graph.py's lookups, on the same port):
- `GET /v1.0/groups/{id}/transitiveMembers`: every direct and nested member (users, groups,
  service principals) with its `@odata.type`; a PIM membership counts while it is active, an
  eligible one does not (it is not a membership until activated). `$top` and `@odata.nextLink`.
- `GET /v1.0/identityGovernance/privilegedAccess/group/eligibilitySchedules` and
  `.../assignmentSchedules` with `$filter=groupId eq '{id}'` (Graph requires a filter on groupId
  or principalId; principalId is served too): each object's `pim` entries of that status, in
  Graph's privilegedAccessGroup*Schedule shape (accessId `member`, memberType `direct`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import DirectoryObject, transitive_groups
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.server import Request, Response

_TRANSITIVE = re.compile(r"^groups/([0-9a-fA-F-]{36})/transitiveMembers(?:/[A-Za-z.]+)?/?$", re.IGNORECASE)
_PIM = re.compile(
    r"^identityGovernance/privilegedAccess/group/(eligibilitySchedules|assignmentSchedules)/?$", re.IGNORECASE
)
_PIM_FILTER = re.compile(r"^\s*(groupId|principalId)\s+eq\s+'([0-9a-fA-F-]{36})'\s*$", re.IGNORECASE)
_ODATA = {"User": "user", "Group": "group", "ServicePrincipal": "servicePrincipal"}
_PAGE = 100


def is_access_path(path: str) -> bool:
    """Is `path` (after `/v1.0/`) one of the reads served here?"""
    return bool(_TRANSITIVE.match(path) or _PIM.match(path))


def answer(path: str, request: Request, state: LiveState) -> Response:
    _only_get(request)
    if m := _TRANSITIVE.match(path):
        return transitive_members(request, state, m.group(1).lower())
    m = _PIM.match(path)
    assert m is not None  # is_access_path said so
    status = "eligible" if m.group(1).lower() == "eligibilityschedules" else "active"
    return pim_schedules(request, state, status)


def _only_get(request: Request) -> None:
    if request.method != "GET":
        raise ApiError(405, "Request_BadRequest", f"{request.method} is not supported here")


def _directory(state: LiveState) -> tuple[DirectoryObject, ...]:
    if state.directory is None:
        raise ApiError(501, "NotImplemented", "The emulator's state has no `directory` to serve Graph from.")
    return state.directory


def _members_of(directory: tuple[DirectoryObject, ...], group: str) -> list[DirectoryObject]:
    """Transitive members: through `member_of` and active PIM memberships (`transitive_groups`)."""
    members = (o for o in directory if o.id.lower() != group and group in transitive_groups(directory, o.id))
    return sorted(members, key=lambda o: o.id.lower())


def _object(o: DirectoryObject) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{_ODATA[o.type]}", "id": o.id.lower()}
    out["displayName"] = o.display_name
    if o.type == "User":
        out["userPrincipalName"] = o.user_principal_name
    return out


def _graph_time(when: datetime | None) -> str | None:
    """As Graph writes times: UTC with a `Z` (a time without a zone is taken as UTC)."""
    if when is None:
        return None
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _paged(request: Request, items: list[dict[str, Any]], context: str) -> Response:
    raw_top, raw_skip = request.param("$top"), request.param("$skiptoken")
    try:
        top = int(raw_top) if raw_top else _PAGE
        start = int(raw_skip) if raw_skip else 0
    except ValueError:
        raise ApiError(400, "Request_BadRequest", "Invalid $top or $skiptoken") from None
    if not 1 <= top <= 999:
        raise ApiError(400, "Request_BadRequest", f"Invalid page size specified: '{top}'")
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}/v1.0/$metadata#{context}"}
    if start + top < len(items):
        query = {k: v for k, v in request.query.items() if k.lower() != "$skiptoken"}
        query["$skiptoken"] = str(start + top)
        encoded = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in query.items())
        body["@odata.nextLink"] = f"{request.base_url}{request.path}?{encoded}"
    body["value"] = items[start : start + top]
    return Response(200, body)


def transitive_members(request: Request, state: LiveState, group: str) -> Response:
    directory = _directory(state)
    if not any(o.id.lower() == group and o.type == "Group" for o in directory):
        raise ApiError(404, "Request_ResourceNotFound", f"Resource '{group}' does not exist")
    items = [_object(o) for o in _members_of(directory, group)]
    return _paged(request, items, "directoryObjects")


def pim_schedules(request: Request, state: LiveState, status: str) -> Response:
    text = request.param("$filter") or ""
    m = _PIM_FILTER.match(text)
    if m is None:
        raise ApiError(
            400,
            "BadRequest",
            "The request must filter on groupId or principalId, e.g. $filter=groupId eq '<id>' (emulator)",
        )
    field, wanted = m.group(1).lower(), m.group(2).lower()
    items = []
    for o in _directory(state):
        for p in o.pim:
            group = p.group.lower()
            if p.status != status or (group if field == "groupid" else o.id.lower()) != wanted:
                continue
            expiration: dict[str, Any] = (
                {"type": "afterDateTime", "endDateTime": _graph_time(p.end)}
                if p.end is not None
                else {"type": "noExpiration", "endDateTime": None}
            )
            item: dict[str, Any] = {
                "id": f"{group}_member_{o.id.lower()}",
                "groupId": group,
                "principalId": o.id.lower(),
                "accessId": "member",
                "memberType": "direct",
                "status": "Provisioned",
                "scheduleInfo": {"startDateTime": _graph_time(p.start), "expiration": expiration},
            }
            if status == "active":
                item["assignmentType"] = "activated" if p.end is not None else "assigned"
            items.append(item)
    kind = "eligibilitySchedules" if status == "eligible" else "assignmentSchedules"
    return _paged(request, items, f"identityGovernance/privilegedAccess/group/{kind}")


__all__ = ["answer", "is_access_path"]
