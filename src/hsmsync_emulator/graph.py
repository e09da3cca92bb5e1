"""A minimal Microsoft Graph over the state's `directory`, on the ARM port, and ARM's
`PrincipalNotFound` for principals the directory does not hold.

Served: `GET /v1.0/{users|groups|servicePrincipals}` with `$filter=displayName eq '<name>'`
(and `userPrincipalName eq '<upn>'` for users), `$select`, `$top` and `@odata.nextLink` paging;
`POST /v1.0/directoryObjects/getByIds` (`{"ids": [...], "types": [...]}`, at most 1000 ids; each
object with its `@odata.type`; unknown ids are left out, as Graph does);
`POST /v1.0/directoryObjects/{id}/getMemberGroups` (transitive, from each object's `member_of`).
Any other filter is 400 (see ASSUMPTIONS.md, "Graph").
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from hsmsync.core.state import DirectoryObject, LiveState, transitive_groups
from hsmsync_emulator import graph_access
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import Operation, Service
from hsmsync_emulator.server import Request, Response
from hsmsync_emulator.store import Store

GRAPH_PREFIX = "/v1.0/"
_COLLECTIONS = {"users": "User", "groups": "Group", "serviceprincipals": "ServicePrincipal"}
_NAMES = {"users": "users", "groups": "groups", "serviceprincipals": "servicePrincipals"}
_FIELDS = {"id": "id", "displayname": "displayName", "userprincipalname": "userPrincipalName"}
_FILTER = re.compile(r"^\s*(displayName|userPrincipalName)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_ODATA_TYPES = {"User": "user", "Group": "group", "ServicePrincipal": "servicePrincipal"}
_MAX_IDS = 1000
_MEMBER_GROUPS = re.compile(r"^directoryObjects/([0-9a-fA-F-]{36})/getMemberGroups/?$", re.IGNORECASE)
_DEFAULT_TOP = 100
_MAX_TOP = 999


def _unsupported(text: str) -> ApiError:
    return ApiError(400, "Request_UnsupportedQuery", f"Unsupported query: $filter={text}")


def _object_json(o: DirectoryObject, select: tuple[str, ...] | None) -> dict[str, Any]:
    full: dict[str, Any] = {"id": o.id.lower(), "displayName": o.display_name}
    if o.type == "User":
        full["userPrincipalName"] = o.user_principal_name
    if select is None:
        return full
    return {"id": full["id"], **{f: full[f] for f in select if f in full}}


class GraphService:
    """Routes `/v1.0/...`; everything else goes to the ARM service sharing the port."""

    def __init__(self, store: Store, arm: Service) -> None:
        self._store = store
        self._arm = arm

    def is_allowed(self, principals: frozenset[str], action: str, scope: str) -> bool:
        return self._arm.is_allowed(principals, action, scope)

    def resolve(self, request: Request) -> Operation:
        if not request.path.lower().startswith(GRAPH_PREFIX):
            return self._arm.resolve(request)
        access = request.path[len(GRAPH_PREFIX) :].strip("/")
        if graph_access.is_access_path(access):  # group members, PIM for Groups (graph_access.py)
            return Operation(lambda: graph_access.answer(access, request, self._store.read()))
        if m := _MEMBER_GROUPS.match(request.path[len(GRAPH_PREFIX) :]):
            if request.method != "POST":
                raise ApiError(405, "Request_BadRequest", f"{request.method} is not supported here")
            return Operation(lambda: self._member_groups(m.group(1)))
        segment = request.path[len(GRAPH_PREFIX) :].strip("/").lower()
        if segment == "directoryobjects/getbyids":
            if request.method != "POST":
                raise ApiError(405, "Request_BadRequest", f"{request.method} is not supported on getByIds")
            return Operation(lambda: self._get_by_ids(request))
        if segment not in _COLLECTIONS:
            raise ApiError(
                404, "Request_ResourceNotFound", f"Resource '{segment}' is not served by the emulator"
            )
        if request.method != "GET":
            raise ApiError(405, "Request_BadRequest", f"{request.method} is not supported by the emulator")
        return Operation(lambda: self._list(request, segment))

    def _member_groups(self, object_id: str) -> Response:
        """`POST /v1.0/directoryObjects/{id}/getMemberGroups`: the ids of every group it is in."""
        state = self._store.read()
        wanted = object_id.lower()
        if state.directory is None or not any(o.id.lower() == wanted for o in state.directory):
            raise ApiError(404, "Request_ResourceNotFound", f"Resource '{object_id}' does not exist")
        return Response(200, {"value": sorted(transitive_groups(state.directory, wanted))})

    def _directory(self) -> tuple[DirectoryObject, ...]:
        directory = self._store.read().directory
        if directory is None:
            raise ApiError(
                501,
                "NotImplemented",
                "The emulator's state has no `directory`: add one to serve Microsoft Graph.",
            )
        return directory

    def _get_by_ids(self, request: Request) -> Response:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Request_BadRequest", "The request body is not valid JSON.") from None
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, "Request_BadRequest", "'ids' must be a list of strings.")
        if len(ids) > _MAX_IDS:
            raise ApiError(400, "Request_BadRequest", f"At most {_MAX_IDS} ids per request.")
        types = body.get("types") or list(_ODATA_TYPES.values())
        wanted_types = {str(t).lower() for t in types}
        by_id = {o.id.lower(): o for o in self._directory()}
        items = []
        for object_id in ids:
            o = by_id.get(object_id.lower())
            if o is not None and _ODATA_TYPES[o.type].lower() in wanted_types:
                items.append(
                    {"@odata.type": f"#microsoft.graph.{_ODATA_TYPES[o.type]}", **_object_json(o, None)}
                )
        context = f"{request.base_url}/v1.0/$metadata#directoryObjects"
        return Response(200, {"@odata.context": context, "value": items})

    def _list(self, request: Request, segment: str) -> Response:
        directory = self._directory()
        principal_type = _COLLECTIONS[segment]
        objects = [o for o in directory if o.type == principal_type]
        text = request.param("$filter")
        if text is not None and text.strip():
            m = _FILTER.match(text)
            if m is None or (m.group(1).lower() == "userprincipalname" and principal_type != "User"):
                raise _unsupported(text)
            wanted = m.group(2).replace("''", "'").casefold()
            if m.group(1).lower() == "displayname":
                objects = [o for o in objects if o.display_name.casefold() == wanted]
            else:
                objects = [o for o in objects if (o.user_principal_name or "").casefold() == wanted]
        select = self._select(request.param("$select"))
        top = self._int(request, "$top", _DEFAULT_TOP)
        if not 1 <= top <= _MAX_TOP:
            raise ApiError(400, "Request_BadRequest", f"Invalid page size specified: '{top}'")
        start = self._int(request, "$skiptoken", 0)
        items = [_object_json(o, select) for o in objects[start : start + top]]
        context = f"{request.base_url}/v1.0/$metadata#{_NAMES[segment]}"
        if select is not None:
            context += f"({','.join(('id', *(f for f in select if f != 'id')))})"
        body: dict[str, Any] = {"@odata.context": context}
        if start + top < len(objects):
            query = {k: v for k, v in request.query.items() if k.lower() != "$skiptoken"}
            query["$skiptoken"] = str(start + top)
            encoded = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in query.items())
            body["@odata.nextLink"] = f"{request.base_url}{request.path}?{encoded}"
        body["value"] = items
        return Response(200, body)

    @staticmethod
    def _select(text: str | None) -> tuple[str, ...] | None:
        if text is None or not text.strip():
            return None
        fields = []
        for raw in text.split(","):
            name = _FIELDS.get(raw.strip().lower())
            if name is None:
                raise ApiError(
                    400, "Request_BadRequest", f"Could not find a property named '{raw.strip()}' (emulator)"
                )
            fields.append(name)
        return tuple(fields)

    @staticmethod
    def _int(request: Request, name: str, default: int) -> int:
        raw = request.param(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ApiError(400, "Request_BadRequest", f"Invalid {name} '{raw}'") from None


def check_principal(state: LiveState, principal_id: str) -> None:
    """ARM's answer to a role assignment for a principal the directory lacks (only when the state
    has a `directory`)."""
    if state.directory is None:
        return
    wanted = principal_id.lower()
    if any(o.id.lower() == wanted for o in state.directory):
        return
    raise ApiError(
        400,
        "PrincipalNotFound",
        f"Principal {wanted.replace('-', '')} does not exist in the directory {state.tenant_id}. "
        "Check that you have the correct principal ID. If you are creating this principal and then "
        "immediately assigning a role, this error might be related to a replication delay. In this "
        "case, set the role assignment principalType property to a value, such as ServicePrincipal, "
        "User, or Group.  See https://aka.ms/docs-principaltype",
    )


__all__ = ["GRAPH_PREFIX", "GraphService", "check_principal"]
