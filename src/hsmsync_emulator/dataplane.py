"""One Managed HSM's data plane: api-version, the host called, then routes to RBAC (role assignments,
role definitions) and keys (key_routes.py)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from hsmsync.core.state import HsmState, LiveState
from hsmsync_emulator import hsm_settings, rbac
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.key_routes import KeyRoutes
from hsmsync_emulator.pipeline import Operation, paged
from hsmsync_emulator.rbac_index import AssignmentIndex
from hsmsync_emulator.server import Request, Response
from hsmsync_emulator.store import StateStore

T = TypeVar("T")
_AUTHZ = re.compile(r"/providers/Microsoft\.Authorization/", re.IGNORECASE)

# The Managed HSM data plane's api-versions (the SDKs' ApiVersion enums; 7.0 and 7.1 predate Managed HSM).
API_VERSIONS = ("7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01")
LATEST_API_VERSION = API_VERSIONS[-1]


def check_api_version(request: Request) -> None:
    """Every data-plane call names a version the service knows, or 400 BadParameter naming it."""
    version = request.param("api-version")
    if version is None or version == "":
        raise ApiError(
            400,
            "BadParameter",
            "The 'api-version' query parameter is required. "
            f"Consider using the latest supported version ({LATEST_API_VERSION}).",
        )
    if version not in API_VERSIONS:
        raise ApiError(
            400,
            "BadParameter",
            f"The specified version ({version}) is not recognized. "
            f"Consider using the latest supported version ({LATEST_API_VERSION}).",
        )


def _body(request: Request) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "BadParameter", "The request body is not valid JSON") from None


class HsmService:
    def __init__(self, name: str, store: StateStore, page_size: Callable[[], int]) -> None:
        self.name = name
        self._store = store
        self._page_size = page_size
        self._key_routes = KeyRoutes(self._hsm, self._change, page_size, _body)
        self._index: AssignmentIndex | None = None  # of the last state listed

    # -------------------------------------------------------------------------------- state access

    def _hsm(self, state: LiveState | None = None) -> HsmState:
        hsm = (state or self._store.read()).hsms.get(self.name)
        if hsm is None:
            raise ApiError(404, "NotFound", f"The HSM '{self.name}' no longer exists in the state file")
        return hsm

    def _change(self, change: Callable[[HsmState], tuple[HsmState, T]]) -> T:
        def apply(state: LiveState) -> tuple[LiveState, T]:
            new_hsm, result = change(self._hsm(state))
            if new_hsm is self._hsm(state):
                return state, result
            return state.model_copy(update={"hsms": {**state.hsms, self.name: new_hsm}}), result

        return self._store.update(apply)

    # What the per-resource modules (hsm_settings.py) use.
    def hsm(self) -> HsmState:
        return self._hsm()

    def change(self, change: Callable[[HsmState], tuple[HsmState, T]]) -> T:
        return self._change(change)

    def _index_of(self, hsm: HsmState) -> AssignmentIndex:
        """The index of this state of the HSM (built again after every change)."""
        index = self._index
        if index is None or index.hsm is not hsm:
            index = self._index = AssignmentIndex(hsm)
        return index

    def is_allowed(self, principals: frozenset[str], action: str, scope: str) -> bool:
        return rbac.is_allowed(self._hsm(), principals, action, scope)

    # ------------------------------------------------------------------------------------- routing

    def _as_called(self, request: Request) -> Request:
        """Azure builds key ids and next links from the host the client called. The Host header
        counts when it names this HSM's host (the state's `url`) or the loopback address; any other
        host is ignored, so a client cannot make the emulator echo a foreign name."""
        host = request.headers.get("Host") or ""
        try:
            hostname = urlsplit(f"//{host}").hostname
        except ValueError:
            return request
        allowed = {"127.0.0.1", "localhost", (urlsplit(self._hsm().url).hostname or "").lower()}
        if not hostname or hostname.lower() not in allowed:
            return request
        return dataclasses.replace(request, base_url=f"https://{host}")

    def resolve(self, request: Request) -> Operation:
        request = self._as_called(request)
        check_api_version(request)
        m = _AUTHZ.search(request.path)
        if m is not None:
            scope = rbac.parse_scope(request.path[: m.start()])
            rest = request.path[m.end() :].split("/")
            collection = rest[0].lower()
            name = unquote("/".join(rest[1:])) if len(rest) > 1 else ""
            if collection == "roleassignments":
                return self._assignments(request, scope, name)
            if collection == "roledefinitions":
                return self._definitions(request, scope, name)
            raise ApiError(404, "NotFound", f"Unknown resource '{rest[0]}'")
        parts = [unquote(p) for p in request.path.split("/")[1:]]
        if parts and parts[0].lower() == "keys":
            return self._key_routes.key_operation(request, parts[1:])
        if parts and parts[0].lower() == "deletedkeys":
            return self._key_routes.deleted_key_operation(request, parts[1:])
        if parts and parts[0].lower() == "settings":
            return hsm_settings.operation(self, request, parts[1:], lambda: _body(request))
        raise ApiError(404, "NotFound", f"No such operation: {request.method} {request.path}")

    def _assignments(self, request: Request, scope: str, name: str) -> Operation:
        m = request.method
        if m == "GET" and not name:
            flt = rbac.parse_data_filter(request.param("$filter"))

            def list_() -> Response:
                hsm = self._hsm()
                items = rbac.list_assignments(hsm, scope, flt, self._index_of(hsm))
                return paged([rbac.assignment_json(a) for a in items], request, self._page_size())

            return Operation(list_, rbac.action("roleAssignments/read/action"), scope, rbac=True)
        if not name:
            raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on a role assignment collection")
        if m == "GET":

            def get() -> Response:
                return Response(200, rbac.assignment_json(rbac.get_assignment(self._hsm(), scope, name)))

            return Operation(get, rbac.action("roleAssignments/read/action"), scope, rbac=True)
        if m == "PUT":
            body = _body(request)

            def put() -> Response:
                created = self._change(lambda h: rbac.put_assignment(h, scope, name, body))
                return Response(201, rbac.assignment_json(created))

            return Operation(put, rbac.action("roleAssignments/write/action"), scope, rbac=True)
        if m == "DELETE":

            def delete() -> Response:
                deleted = self._change(lambda h: rbac.delete_assignment(h, scope, name))
                return Response(200, rbac.assignment_json(deleted))

            return Operation(delete, rbac.action("roleAssignments/delete/action"), scope, rbac=True)
        raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on a role assignment")

    def _definitions(self, request: Request, scope: str, name: str) -> Operation:
        m = request.method
        if m == "GET" and not name:
            flt = request.param("$filter")

            def list_() -> Response:
                items = rbac.list_definitions(self._hsm(), flt)
                return paged([rbac.definition_json(r) for r in items], request, self._page_size())

            return Operation(list_, rbac.action("roleDefinitions/read/action"), scope, rbac=True)
        if not name:
            raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on a role definition collection")
        if m == "GET":

            def get() -> Response:
                return Response(200, rbac.definition_json(rbac.get_definition(self._hsm(), name)))

            return Operation(get, rbac.action("roleDefinitions/read/action"), scope, rbac=True)
        if m == "PUT":
            body = _body(request)

            def put() -> Response:
                role = self._change(lambda h: rbac.put_definition(h, scope, name, body))
                return Response(201, rbac.definition_json(role))

            return Operation(put, rbac.action("roleDefinitions/write/action"), scope, rbac=True)
        if m == "DELETE":

            def delete() -> Response:
                role = self._change(lambda h: rbac.delete_definition(h, scope, name))
                return Response(200, rbac.definition_json(role))

            return Operation(delete, rbac.action("roleDefinitions/delete/action"), scope, rbac=True)
        raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on a role definition")
