"""What the emulator's ARM resource routes share: path and request-body parsing, and the base class
holding the store and the Managed HSM lookup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from hsmsync.core.state import HsmState, LiveState
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.server import Request
from hsmsync_emulator.store import Store

T = TypeVar("T")

ARM_TIMESTAMP = "2024-01-01T00:00:00.0000000Z"  # every ARM object's createdOn / updatedOn


def clean_path(raw: str) -> str:
    return "/" + "/".join(p for p in unquote(raw).split("/") if p)


def scope_key(scope: str) -> str:
    return clean_path(scope).rstrip("/").lower()


def at_or_above(assigned: str, requested: str) -> bool:
    a, r = scope_key(assigned), scope_key(requested)
    return a == "" or a == r or r.startswith(a + "/")


def json_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidRequestContent", "The request content is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return body


def properties_of(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ApiError(400, "InvalidRequestContent", "The request content must carry 'properties'.")
    return props


def str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "InvalidRequestContent", f"'{what}' must be a list of strings.")
    return value


class ArmResourceBase:
    """The store and the HSM lookup every resource kind's routes use."""

    def __init__(self, store: Store, hsm_json: Callable[[str, HsmState, str], dict[str, Any]]) -> None:
        self._store = store
        self._hsm_json = hsm_json

    def _update(self, change: Callable[[LiveState], tuple[LiveState, T]]) -> T:
        return self._store.update(change)

    def _find_hsm(self, state: LiveState, resource_id: str) -> tuple[str, HsmState] | None:
        wanted = scope_key(resource_id)
        for key, hsm in state.hsms.items():
            if hsm.resource_id and scope_key(hsm.resource_id) == wanted:
                return key, hsm
        return None
