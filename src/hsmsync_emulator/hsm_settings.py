"""A Managed HSM's data-plane settings: GET /settings, GET and PATCH /settings/{name}
(azure-rest-api-specs, keyvault data plane, stable/2025-06-01/settings.json).

Authorized by the Managed HSM Administrator's `settings/read/action` and `settings/write/action`
at '/'. The service's answers to an unknown name or a non-boolean value are not published: see
ASSUMPTIONS.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hsmsync.core.state import DataSetting, HsmState
from hsmsync_emulator import rbac
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import Operation
from hsmsync_emulator.server import Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable

    from hsmsync_emulator.dataplane import HsmService


def setting_json(s: DataSetting) -> dict[str, str]:
    return {"name": s.name, "value": s.value, "type": s.type}


def _find(hsm: HsmState, name: str) -> DataSetting:
    for s in hsm.listed_data_settings:
        if s.name.lower() == name.lower():
            return s
    raise ApiError(404, "NotFound", f"Setting '{name}' was not found")


def _with_value(hsm: HsmState, name: str, value: str) -> tuple[HsmState, DataSetting]:
    current = _find(hsm, name)
    updated = current.model_copy(update={"value": value})
    settings = tuple(updated if s is current else s for s in hsm.listed_data_settings)
    return hsm.model_copy(update={"data_settings": settings}), updated


def _boolean_value(body: Any) -> str:
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str) or value.lower() not in ("true", "false"):
        raise ApiError(400, "BadParameter", f"Setting value must be 'true' or 'false', not {value!r}")
    return value.lower()


def operation(service: HsmService, request: Request, parts: list[str], body: Callable[[], Any]) -> Operation:
    read, write = rbac.action("settings/read/action"), rbac.action("settings/write/action")
    m = request.method
    if not parts or parts == [""]:
        if m != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on /settings")

        def list_() -> Response:
            return Response(200, {"settings": [setting_json(s) for s in service.hsm().listed_data_settings]})

        return Operation(list_, read, "/")
    name = parts[0]
    if len(parts) > 1:
        raise ApiError(404, "NotFound", f"No such operation: {m} {request.path}")
    if m == "GET":
        return Operation(lambda: Response(200, setting_json(_find(service.hsm(), name))), read, "/")
    if m == "PATCH":
        value = _boolean_value(body())

        def patch() -> Response:
            return Response(200, setting_json(service.change(lambda h: _with_value(h, name, value))))

        return Operation(patch, write, "/")
    raise ApiError(405, "MethodNotAllowed", f"{m} is not supported on a setting")
