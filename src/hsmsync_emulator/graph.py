"""A minimal Microsoft Graph over the state's `directory`, on the ARM port, and ARM's
`PrincipalNotFound` for principals the directory does not hold.

Served: `GET /v1.0/{users|groups|servicePrincipals}` with `$filter=displayName eq '<name>'`
(and `userPrincipalName eq '<upn>'` for users, `servicePrincipalNames/any(c:c eq '<name>')` for
service principals), `$select`, `$top` and `@odata.nextLink` paging; `GET .../{id}` (users also by
principal name); `POST /v1.0/directoryObjects/getByIds` (`{"ids": [...], "types": [...]}`, at most
1000 ids; each object with its `@odata.type`; unknown ids are left out, as Graph does);
`POST /v1.0/directoryObjects/{id}/getMemberGroups` (transitive, from each object's `member_of`).
Any other filter is 400; errors come in Graph's envelope (see ASSUMPTIONS.md, "Graph").
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote, unquote

from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import DirectoryObject, transitive_groups
from hsmsync_emulator import graph_access
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import Operation, Service
from hsmsync_emulator.server import Request, Response
from hsmsync_emulator.store import Store

GRAPH_PREFIX = "/v1.0/"
_COLLECTIONS = {"users": "User", "groups": "Group", "serviceprincipals": "ServicePrincipal"}
_NAMES = {"users": "users", "groups": "groups", "serviceprincipals": "servicePrincipals"}
_FIELDS = {
    "id": "id",
    "displayname": "displayName",
    "userprincipalname": "userPrincipalName",
    "appid": "appId",
    "serviceprincipalnames": "servicePrincipalNames",
}
_FILTER = re.compile(r"^\s*(displayName|userPrincipalName)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_SPN_FILTER = re.compile(
    r"^\s*servicePrincipalNames/any\(\s*(\w+)\s*:\s*\1\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$", re.IGNORECASE
)
_BY_ID = re.compile(r"^(users|groups|serviceprincipals)/([^/]+)$", re.IGNORECASE)
_ODATA_TYPES = {"User": "user", "Group": "group", "ServicePrincipal": "servicePrincipal"}
_MAX_IDS = 1000
_MEMBER_GROUPS = re.compile(r"^directoryObjects/([0-9a-fA-F-]{36})/getMemberGroups/?$", re.IGNORECASE)
_DEFAULT_TOP = 100
_MAX_TOP = 999


def _unsupported(text: str) -> ApiError:
    return ApiError(400, "Request_UnsupportedQuery", f"Unsupported query: $filter={text}")


def _app_ids(state: LiveState) -> dict[str, str]:
    """Service principal object id -> its application (client) id, from the token service's list."""
    return {a.object_id.lower(): a.client_id.lower() for a in state.sign_in.applications}


def _object_json(
    o: DirectoryObject, select: tuple[str, ...] | None, app_ids: dict[str, str] | None = None
) -> dict[str, Any]:
    full: dict[str, Any] = {"id": o.id.lower(), "displayName": o.display_name}
    if o.type == "User":
        full["userPrincipalName"] = o.user_principal_name
    app_id = (app_ids or {}).get(o.id.lower()) if o.type == "ServicePrincipal" else None
    if app_id is not None:  # Entra lists a service principal's appId among its names
        full["appId"] = app_id
        full["servicePrincipalNames"] = [app_id]
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
        try:
            operation = self._route(request)
        except ApiError as exc:
            answer = graph_error(exc)
            return Operation(lambda: answer)
        run = operation.run
        return replace(operation, run=lambda: _in_graph_shape(run))

    def _route(self, request: Request) -> Operation:
        rest = request.path[len(GRAPH_PREFIX) :]
        access = rest.strip("/")
        if graph_access.is_access_path(access):  # group members, PIM for Groups (graph_access.py)
            return Operation(lambda: graph_access.answer(access, request, self._store.read()))
        if m := _MEMBER_GROUPS.match(rest):
            if request.method != "POST":
                raise ApiError(405, "Request_BadRequest", f"{request.method} is not supported here")
            return Operation(lambda: self._member_groups(m.group(1)))
        segment = rest.strip("/").lower()
        if segment == "directoryobjects/getbyids":
            if request.method != "POST":
                raise ApiError(405, "Request_BadRequest", f"{request.method} is not supported on getByIds")
            return Operation(lambda: self._get_by_ids(request))
        by_id = _BY_ID.match(rest.strip("/"))
        if segment not in _COLLECTIONS and by_id is None:
            raise ApiError(
                404, "Request_ResourceNotFound", f"Resource '{segment}' is not served by the emulator"
            )
        if request.method != "GET":
            raise ApiError(405, "Request_BadRequest", f"{request.method} is not supported by the emulator")
        if by_id is not None:
            collection, object_id = by_id.group(1).lower(), unquote(by_id.group(2))
            return Operation(lambda: self._get_object(request, collection, object_id))
        return Operation(lambda: self._list(request, segment))

    def _get_object(self, request: Request, collection: str, object_id: str) -> Response:
        """`GET /v1.0/{users|groups|servicePrincipals}/{id}` (users also by principal name)."""
        state = self._store.read()
        wanted, principal_type = object_id.lower(), _COLLECTIONS[collection]
        found = next(
            (
                o
                for o in self._directory()
                if o.type == principal_type
                and (o.id.lower() == wanted or (o.user_principal_name or "").lower() == wanted)
            ),
            None,
        )
        if found is None:
            raise ApiError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{object_id}' does not exist or one of its queried reference-property objects "
                "are not present.",
            )
        select = self._select(request.param("$select"))
        context = f"{request.base_url}/v1.0/$metadata#{_NAMES[collection]}{_selected(select)}/$entity"
        return Response(200, {"@odata.context": context, **_object_json(found, select, _app_ids(state))})

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
        app_ids = _app_ids(self._store.read())
        items = []
        for object_id in ids:
            o = by_id.get(object_id.lower())
            if o is not None and _ODATA_TYPES[o.type].lower() in wanted_types:
                odata_type = f"#microsoft.graph.{_ODATA_TYPES[o.type]}"
                items.append({"@odata.type": odata_type, **_object_json(o, None, app_ids)})
        context = f"{request.base_url}/v1.0/$metadata#directoryObjects"
        return Response(200, {"@odata.context": context, "value": items})

    def _list(self, request: Request, segment: str) -> Response:
        directory = self._directory()
        principal_type = _COLLECTIONS[segment]
        objects = [o for o in directory if o.type == principal_type]
        app_ids = _app_ids(self._store.read())
        text = request.param("$filter")
        spn = _SPN_FILTER.match(text or "") if principal_type == "ServicePrincipal" else None
        if spn is not None:
            wanted = spn.group(2).replace("''", "'").casefold()
            objects = [o for o in objects if app_ids.get(o.id.lower()) == wanted]
        elif text is not None and text.strip():
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
        items = [_object_json(o, select, app_ids) for o in objects[start : start + top]]
        context = f"{request.base_url}/v1.0/$metadata#{_NAMES[segment]}{_selected(select)}"
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


def _selected(select: tuple[str, ...] | None) -> str:
    """`(id,displayName)` for `@odata.context` after a `$select`; nothing without one."""
    if select is None:
        return ""
    return f"({','.join(('id', *(f for f in select if f != 'id')))})"


def graph_error(exc: ApiError) -> Response:
    """Graph's error envelope: code, message, and `innerError` with the request's id and date."""
    request_id = str(uuid.uuid4())
    inner = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "request-id": request_id,
        "client-request-id": request_id,
    }
    body = {"error": {"code": exc.code, "message": exc.message, "innerError": inner}}
    headers = {**exc.headers, "request-id": request_id, "client-request-id": request_id}
    return Response(exc.status, body, headers)


def _in_graph_shape(run: Callable[[], Response]) -> Response:
    try:
        return run()
    except ApiError as exc:
        return graph_error(exc)


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


__all__ = ["GRAPH_PREFIX", "GraphService", "check_principal", "graph_error"]
