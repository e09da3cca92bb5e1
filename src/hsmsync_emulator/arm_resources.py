"""ARM resources beyond RBAC: Managed HSM settings (PATCH), diagnostic settings on the HSM, Key Vault
access policies, and custom Azure role definitions (PUT/DELETE).

Everything lives in the same `LiveState` as the rest of the emulator: `HsmState.settings`,
`HsmState.diagnostic_settings`, `LiveState.vaults` and `ArmState.role_definitions`. See
ASSUMPTIONS.md ("ARM resources") for what the public material does not settle.

This module routes requests; each resource kind lives in its own module (`arm_hsm_settings`,
`arm_diagnostics`, `arm_vaults`, `arm_custom_roles`) and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from hsmsync.core.state import HsmState
from hsmsync_emulator.arm_common import T, clean_path, json_body
from hsmsync_emulator.arm_custom_roles import (
    SUBSCRIPTION,
    CustomRoleRoutes,
    custom_role_json,
    definition_prefix,
)
from hsmsync_emulator.arm_diagnostics import (
    DIAGNOSTIC_PATH,
    HSM_CATEGORY_GROUPS,
    HSM_LOG_CATEGORIES,
    DiagnosticRoutes,
    diagnostic_json,
)
from hsmsync_emulator.arm_hsm_settings import HSM_PATH, HsmSettingsRoutes, hsm_settings_json
from hsmsync_emulator.arm_vaults import MAX_ACCESS_POLICIES, VAULT_PATH, VaultRoutes, vault_json
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import Operation
from hsmsync_emulator.server import Request
from hsmsync_emulator.store import Store

__all__ = [
    "HSM_CATEGORY_GROUPS",
    "HSM_LOG_CATEGORIES",
    "HSM_PATH",
    "MAX_ACCESS_POLICIES",
    "SUBSCRIPTION",
    "ArmResources",
    "T",
    "custom_role_json",
    "definition_prefix",
    "diagnostic_json",
    "hsm_settings_json",
    "vault_json",
]


class ArmResources(HsmSettingsRoutes, DiagnosticRoutes, VaultRoutes, CustomRoleRoutes):
    """Routes for the resources above; `resolve` answers None for paths that are not theirs."""

    def __init__(self, store: Store, hsm_json: Callable[[str, HsmState, str], dict[str, Any]]) -> None:
        super().__init__(store, hsm_json)

    def resolve(self, request: Request) -> Operation | None:
        path, method = request.path, request.method
        if (m := DIAGNOSTIC_PATH.match(path)) and not m.group("resource").lower().endswith("/providers"):
            resource, name = clean_path(m.group("resource")), unquote(m.group("name") or "")
            return self._diagnostics(request, resource, name)
        if method == "PATCH" and (m := HSM_PATH.match(path)):
            body, rg, name = json_body(request), m.group("rg"), m.group("name")
            return Operation(lambda: self._patch_hsm(path, rg, name, body))
        if v := VAULT_PATH.match(path):
            vault_id, kind, vault_name = clean_path(v.group("id")), v.group("kind"), v.group("name")
            if kind is None:
                if method == "PATCH":
                    body = json_body(request)
                    return Operation(lambda: self._patch_vault(vault_id, vault_name, body))
                if method != "GET":
                    raise ApiError(
                        405, "MethodNotAllowed", f"The emulator updates vaults with PATCH only ({method})"
                    )
                return Operation(lambda: self._get_vault(vault_id, vault_name))
            if method != "PUT":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on accessPolicies")
            body = json_body(request)
            return Operation(lambda: self._update_policies(vault_id, vault_name, kind, body))
        return None
