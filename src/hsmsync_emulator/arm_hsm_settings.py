"""Managed HSM settings in the emulator's ARM: the PATCH of `HsmState.settings` and their JSON shape."""

from __future__ import annotations

import re
from typing import Any

from hsmsync.core.state import HsmSettings, LiveState, NetworkAcls
from hsmsync_emulator.arm_common import ArmResourceBase, properties_of
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.server import Response

HSM_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.KeyVault/managedHSMs"
    r"/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)


def hsm_settings_json(settings: HsmSettings) -> dict[str, Any]:
    """The `properties` fields of a Managed HSM that come from `HsmState.settings`."""
    return {
        "softDeleteRetentionInDays": settings.soft_delete_retention_days,
        "enablePurgeProtection": settings.purge_protection,
        "publicNetworkAccess": settings.public_network_access,
        "networkAcls": {
            "bypass": settings.network_acls.bypass,
            "defaultAction": settings.network_acls.default_action,
            "ipRules": [{"value": v} for v in settings.network_acls.ip_rules],
            "virtualNetworkRules": [],
        },
    }


class HsmSettingsRoutes(ArmResourceBase):
    """PATCH of a Managed HSM's settings."""

    def _patch_hsm(self, path: str, rg: str, name: str, body: dict[str, Any]) -> Response:
        props = properties_of(body)

        def change(state: LiveState) -> tuple[LiveState, dict[str, Any]]:
            found = self._find_hsm(state, path)
            if found is None:
                raise ApiError(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.KeyVault/managedHSMs/{name}' under resource group '{rg}' "
                    "was not found.",
                )
            key, hsm = found
            settings = _patched_settings(hsm.settings, props)
            new_hsm = hsm.model_copy(update={"settings": settings})
            new_state = state
            if new_hsm != hsm:
                new_state = state.model_copy(update={"hsms": {**state.hsms, key: new_hsm}})
            return new_state, self._hsm_json(key, new_hsm, state.tenant_id)

        # 200 with the resource and provisioningState Succeeded: the SDK's LRO poller is done at once.
        return Response(200, self._update(change))


def _patched_settings(current: HsmSettings, props: dict[str, Any]) -> HsmSettings:
    """The HSM's settings after a PATCH, enforcing what the service refuses."""
    update: dict[str, Any] = {}
    if "enablePurgeProtection" in props:
        value = props["enablePurgeProtection"]
        if not isinstance(value, bool):
            raise ApiError(400, "BadRequest", "'enablePurgeProtection' must be a boolean.")
        if current.purge_protection and not value:
            raise ApiError(
                400,
                "BadRequest",
                'The property "enablePurgeProtection" cannot be set to false. Enabling the purge '
                "protection for a managed HSM is an irreversible action.",
            )
        update["purge_protection"] = value
    if "softDeleteRetentionInDays" in props:
        days = props["softDeleteRetentionInDays"]
        if not isinstance(days, int) or isinstance(days, bool) or not 7 <= days <= 90:
            raise ApiError(400, "BadRequest", "'softDeleteRetentionInDays' must be an integer from 7 to 90.")
        if days != current.soft_delete_retention_days:
            raise ApiError(
                400,
                "BadRequest",
                'The property "softDeleteRetentionInDays" cannot be changed after the managed HSM is '
                f"created (it is {current.soft_delete_retention_days}).",
            )
    if "enableSoftDelete" in props and props["enableSoftDelete"] is False:
        raise ApiError(400, "BadRequest", "Soft delete cannot be disabled on a managed HSM.")
    if "publicNetworkAccess" in props:
        access = props["publicNetworkAccess"]
        if access not in ("Enabled", "Disabled"):
            raise ApiError(
                400, "BadRequest", f"'publicNetworkAccess' must be Enabled or Disabled, not {access!r}."
            )
        update["public_network_access"] = access
    if props.get("networkAcls") is not None:
        update["network_acls"] = _patched_acls(current.network_acls, props["networkAcls"])
    return current.model_copy(update=update)


def _patched_acls(current: NetworkAcls, acls: Any) -> NetworkAcls:
    if not isinstance(acls, dict):
        raise ApiError(400, "BadRequest", "'networkAcls' must be an object.")
    update: dict[str, Any] = {}
    if "defaultAction" in acls:
        if acls["defaultAction"] not in ("Allow", "Deny"):
            raise ApiError(400, "BadRequest", "'networkAcls.defaultAction' must be Allow or Deny.")
        update["default_action"] = acls["defaultAction"]
    if "bypass" in acls:
        if acls["bypass"] not in ("AzureServices", "None"):
            raise ApiError(400, "BadRequest", "'networkAcls.bypass' must be AzureServices or None.")
        update["bypass"] = acls["bypass"]
    if "ipRules" in acls:
        rules = acls["ipRules"] or []
        if not isinstance(rules, list) or not all(
            isinstance(r, dict) and isinstance(r.get("value"), str) for r in rules
        ):
            raise ApiError(400, "BadRequest", "'networkAcls.ipRules' must be a list of {\"value\": ...}.")
        update["ip_rules"] = tuple(r["value"] for r in rules)
    return current.model_copy(update=update)
