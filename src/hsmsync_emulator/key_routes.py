"""The keys API of one Managed HSM's data plane: /keys (list, get, create, delete) and
/deletedkeys (list, get, purge, recover). The shapes and rules live in keys.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hsmsync.core.state import HsmState, KeyProperties
from hsmsync_emulator import keys, rbac
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import Operation, paged
from hsmsync_emulator.server import Request, Response

_READ = rbac.action("keys/read/action")
_READ_DELETED = rbac.action("keys/deletedKeys/read/action")


def _unsupported(request: Request) -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", f"{request.method} {request.path} is not supported by the emulator"
    )


class KeyRoutes:
    def __init__(
        self,
        hsm: Callable[[], HsmState],
        change: Callable[[Callable[[HsmState], tuple[HsmState, Any]]], Any],
        page_size: Callable[[], int],
        body: Callable[[Request], Any],
    ) -> None:
        self._hsm = hsm
        self._change = change
        self._page_size = page_size
        self._body = body
        # The state records key names only: keys created here keep their type while the emulator runs.
        self._created: dict[str, tuple[str, dict[str, Any]]] = {}
        # Soft-deleted keys (by lower-case name), held while the emulator runs (the state has no place).
        self._deleted: dict[str, keys.DeletedKey] = {}

    def _size(self, request: Request) -> Callable[[], int]:
        raw = request.param("maxresults")
        try:
            wanted = int(raw) if raw else None
        except ValueError:
            raise ApiError(400, "BadParameter", f"Invalid maxresults '{raw}'") from None
        return lambda: max(min(wanted, self._page_size()) if wanted else self._page_size(), 1)

    def _type_of(self, name: str, props: KeyProperties | None) -> tuple[str, dict[str, Any]]:
        """Created here: as created; else the state's type, RSA without one."""
        return self._created.get(name.lower(), ((props and props.kty) or "RSA", {}))

    # -------------------------------------------------------------------------------------- /keys

    def key_operation(self, request: Request, parts: list[str]) -> Operation:
        m = request.method
        if not parts or parts == [""]:
            if m != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on /keys")
            return self._list(request)
        name = parts[0]
        keys.check_key_name(name)
        if m == "POST" and parts[1:] == ["create"]:
            return self._create(request, name)
        if m == "GET" and parts[1:] == ["versions"]:
            raise _unsupported(request)  # one version per key here: not a version named "versions"
        if m == "GET" and len(parts) <= 2:
            return self._get(request, name, parts[1] if len(parts) == 2 else "")
        if m == "DELETE" and len(parts) == 1:
            return self._delete(request, name)
        raise _unsupported(request)

    def _list(self, request: Request) -> Operation:
        size = self._size(request)

        def run() -> Response:
            hsm = self._hsm()
            items = [keys.key_item(request.base_url, k, keys.key_properties(hsm, k)) for k in hsm.keys or ()]
            return paged(items, request, size(), null_next=True)

        return Operation(run, _READ, "/keys")

    def _create(self, request: Request, name: str) -> Operation:
        body = self._body(request)

        def run() -> Response:
            if name.lower() in self._deleted:
                raise keys.key_is_deleted(name)
            stored = self._change(lambda h: keys.create_key(h, name, body))
            kty = str(body.get("kty") or "RSA") if isinstance(body, dict) else "RSA"
            self._created[stored.lower()] = (kty, body)
            return Response(200, keys.key_bundle(request.base_url, stored, kty, body))

        return Operation(run, rbac.action("keys/create"), f"/keys/{name}")

    def _get(self, request: Request, name: str, version: str) -> Operation:
        def run() -> Response:
            hsm = self._hsm()
            stored = keys.find_key(hsm, name)
            if stored is None or (version and version != keys.key_version(request.base_url, stored)):
                raise keys.key_not_found(f"{name}/{version}" if version else name)
            props = keys.key_properties(hsm, stored)
            kty, params = self._type_of(stored, props)
            return Response(200, keys.key_bundle(request.base_url, stored, kty, params, props))

        return Operation(run, _READ, f"/keys/{name}")

    def _delete(self, request: Request, name: str) -> Operation:
        def change(hsm: HsmState) -> tuple[HsmState, keys.DeletedKey]:
            new, (stored, props) = keys.delete_key(hsm, name)
            kty, params = self._type_of(stored, props)
            self._created.pop(stored.lower(), None)
            deleted = self._deleted[stored.lower()] = keys.DeletedKey(stored, kty, params, props)
            return new, deleted

        def run() -> Response:
            deleted: keys.DeletedKey = self._change(change)
            return Response(200, deleted.bundle(request.base_url))

        return Operation(run, rbac.action("keys/delete"), f"/keys/{name}")

    # ------------------------------------------------------------------------------- /deletedkeys

    def deleted_key_operation(self, request: Request, parts: list[str]) -> Operation:
        m = request.method
        if not parts or parts == [""]:
            if m != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on /deletedkeys")
            return self._list_deleted(request)
        name = parts[0]
        keys.check_key_name(name)
        if m == "GET" and len(parts) == 1:
            return Operation(
                lambda: Response(200, self._found(name).bundle(request.base_url)),
                _READ_DELETED,
                f"/keys/{name}",
            )
        if m == "DELETE" and len(parts) == 1:
            return self._purge(name)
        if m == "POST" and parts[1:] == ["recover"]:
            return self._recover(request, name)
        raise _unsupported(request)

    def _found(self, name: str) -> keys.DeletedKey:
        deleted = self._deleted.get(name.lower())
        if deleted is None:
            raise keys.deleted_key_not_found()
        return deleted

    def _list_deleted(self, request: Request) -> Operation:
        size = self._size(request)

        def run() -> Response:
            items = [d.item(request.base_url) for d in list(self._deleted.values())]
            return paged(items, request, size(), null_next=True)

        return Operation(run, _READ_DELETED, "/keys")

    def _purge(self, name: str) -> Operation:
        def run() -> Response:
            self._deleted.pop(self._found(name).name.lower(), None)
            return Response(204)

        return Operation(run, rbac.action("keys/deletedKeys/delete"), f"/keys/{name}")

    def _recover(self, request: Request, name: str) -> Operation:
        def run() -> Response:
            deleted = self._found(name)

            def change(hsm: HsmState) -> tuple[HsmState, str]:
                new, stored = keys.recover_key(hsm, deleted.name, deleted.props)
                self._deleted.pop(deleted.name.lower(), None)
                self._created[stored.lower()] = (deleted.kty, deleted.params)
                return new, stored

            stored: str = self._change(change)
            bundle = keys.key_bundle(request.base_url, stored, deleted.kty, deleted.params, deleted.props)
            return Response(200, bundle)

        return Operation(run, rbac.action("keys/deletedKeys/recover/action"), f"/keys/{name}")
