"""Literal manifests for review tests: principals by type, teams by role, one or two HSMs."""

from __future__ import annotations

import uuid
from typing import Any

from hsmsync.core.compile import compile_manifest
from hsmsync.core.desired import DesiredState
from hsmsync.core.model import Manifest

SUB = "11111111-2222-3333-4444-555555555555"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"


def pid(key: str) -> str:
    """A stable object id per principal key, so tests can name principals by key only."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal:{key}"))


def hsm(name: str) -> dict[str, str]:
    return {
        "url": f"https://{name}.managedhsm.azure.net",
        "resource_id": f"{RG}/providers/Microsoft.KeyVault/managedHSMs/{name}",
    }


def data(role: str, scope: str = "/", on: str = "h1") -> dict[str, str]:
    return {"hsm": on, "role": role, "scope": scope}


def build(
    principals: dict[str, str],
    teams: dict[str, tuple[list[str], list[dict[str, str]]]],
    *,
    roles: dict[str, dict[str, Any]] | None = None,
    suppress: list[dict[str, str]] | None = None,
    hsms: tuple[str, ...] = ("h1",),
) -> tuple[Manifest, DesiredState]:
    """principals: key -> type; teams: key -> (members, data assignments)."""
    doc = {
        "version": 1,
        "principals": {k: {"type": t, "id": pid(k)} for k, t in principals.items()},
        "hsms": {name: hsm(name) for name in hsms},
        "roles": roles or {},
        "teams": {k: {"members": m, "data": d} for k, (m, d) in teams.items()},
        "lint": {"suppress": suppress or []},
    }
    manifest = Manifest.model_validate(doc)
    return manifest, compile_manifest(manifest)


def custom_role(
    name: str, *actions: str, on: str = "h1", not_actions: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {"hsm": on, "name": name, "data_actions": list(actions), "not_data_actions": list(not_actions)}
