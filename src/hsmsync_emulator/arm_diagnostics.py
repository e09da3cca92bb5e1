"""Diagnostic settings on a Managed HSM in the emulator's ARM (`HsmState.diagnostic_settings`)."""

from __future__ import annotations

import re
from typing import Any

from hsmsync.core.state import DiagnosticSetting, HsmState, LiveState
from hsmsync_emulator.arm_common import ArmResourceBase, json_body, properties_of
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import Operation
from hsmsync_emulator.server import Request, Response

DIAGNOSTIC_PATH = re.compile(
    r"^(?P<resource>.+?)/providers/Microsoft\.Insights/diagnosticSettings(?:/(?P<name>[^/]+))?/?$",
    re.IGNORECASE,
)

# Log categories a Managed HSM emits, and the category groups that stand for them.
HSM_LOG_CATEGORIES = ("AuditEvent",)
HSM_CATEGORY_GROUPS = {"audit": HSM_LOG_CATEGORIES, "alllogs": HSM_LOG_CATEGORIES}


def diagnostic_json(resource_id: str, setting: DiagnosticSetting) -> dict[str, Any]:
    return {
        "id": f"{resource_id}/providers/microsoft.insights/diagnosticSettings/{setting.name}",
        "name": setting.name,
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "storageAccountId": setting.storage_account_id,
            "workspaceId": setting.workspace_id,
            "eventHubAuthorizationRuleId": setting.event_hub_authorization_rule_id,
            "eventHubName": setting.event_hub_name,
            "serviceBusRuleId": None,
            "metrics": [],
            "logs": [
                {"category": c, "categoryGroup": None, "enabled": True, "retentionPolicy": None}
                for c in setting.categories
            ],
            "logAnalyticsDestinationType": None,
        },
    }


class DiagnosticRoutes(ArmResourceBase):
    """List, get, put and delete of an HSM's diagnostic settings."""

    def _diagnostics(self, request: Request, resource: str, name: str) -> Operation:
        method = request.method
        if not name:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on diagnosticSettings")
            return Operation(lambda: self._list_diagnostics(resource))
        if method == "GET":
            return Operation(lambda: self._get_diagnostic(resource, name))
        if method == "PUT":
            body = json_body(request)
            return Operation(lambda: self._put_diagnostic(resource, name, body))
        if method == "DELETE":
            return Operation(lambda: self._delete_diagnostic(resource, name))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on a diagnostic setting")

    def _diagnostic_owner(self, state: LiveState, resource: str) -> tuple[str, HsmState]:
        found = self._find_hsm(state, resource)
        if found is None:
            raise ApiError(
                404,
                "ResourceNotFound",
                f"The resource '{resource}' was not found (the emulator keeps diagnostic settings on "
                "Managed HSMs only).",
            )
        return found

    def _list_diagnostics(self, resource: str) -> Response:
        _, hsm = self._diagnostic_owner(self._store.read(), resource)
        return Response(
            200, {"value": [diagnostic_json(hsm.resource_id, d) for d in hsm.diagnostic_settings]}
        )

    def _get_diagnostic(self, resource: str, name: str) -> Response:
        _, hsm = self._diagnostic_owner(self._store.read(), resource)
        for d in hsm.diagnostic_settings:
            if d.name.lower() == name.lower():
                return Response(200, diagnostic_json(hsm.resource_id, d))
        raise ApiError(404, "ResourceNotFound", f"The diagnostic setting '{name}' doesn't exist.")

    def _put_diagnostic(self, resource: str, name: str, body: dict[str, Any]) -> Response:
        setting = _diagnostic_from_body(name, properties_of(body))

        def change(state: LiveState) -> tuple[LiveState, dict[str, Any]]:
            key, hsm = self._diagnostic_owner(state, resource)
            others = tuple(d for d in hsm.diagnostic_settings if d.name.lower() != name.lower())
            existing = next((d for d in hsm.diagnostic_settings if d.name.lower() == name.lower()), None)
            stored = setting.model_copy(update={"name": existing.name}) if existing else setting
            if existing == stored:
                return state, diagnostic_json(hsm.resource_id, stored)
            if existing is None and len(others) >= 5:
                raise ApiError(
                    400, "BadRequest", "Diagnostic settings limit of 5 for the resource has been reached."
                )
            new_hsm = hsm.model_copy(update={"diagnostic_settings": (*others, stored)})
            new_state = state.model_copy(update={"hsms": {**state.hsms, key: new_hsm}})
            return new_state, diagnostic_json(hsm.resource_id, stored)

        return Response(200, self._update(change))

    def _delete_diagnostic(self, resource: str, name: str) -> Response:
        def change(state: LiveState) -> tuple[LiveState, bool]:
            key, hsm = self._diagnostic_owner(state, resource)
            kept = tuple(d for d in hsm.diagnostic_settings if d.name.lower() != name.lower())
            if len(kept) == len(hsm.diagnostic_settings):
                return state, False
            new_hsm = hsm.model_copy(update={"diagnostic_settings": kept})
            return state.model_copy(update={"hsms": {**state.hsms, key: new_hsm}}), True

        return Response(200) if self._update(change) else Response(204)


def _diagnostic_from_body(name: str, props: dict[str, Any]) -> DiagnosticSetting:
    categories: list[str] = []
    logs = props.get("logs") or []
    if not isinstance(logs, list):
        raise ApiError(400, "BadRequest", "'logs' must be a list.")
    for entry in logs:
        if not isinstance(entry, dict) or not entry.get("enabled"):
            continue
        group, category = entry.get("categoryGroup"), entry.get("category")
        if isinstance(group, str) and group:
            found = HSM_CATEGORY_GROUPS.get(group.lower())
            if found is None:
                raise ApiError(400, "BadRequest", f"Category group '{group}' is not supported.")
            categories.extend(found)
        elif isinstance(category, str):
            known = {c.lower(): c for c in HSM_LOG_CATEGORIES}
            if category.lower() not in known:
                raise ApiError(400, "BadRequest", f"Category '{category}' is not supported.")
            categories.append(known[category.lower()])
    destinations = {
        "storage_account_id": props.get("storageAccountId"),
        "workspace_id": props.get("workspaceId"),
        "event_hub_authorization_rule_id": props.get("eventHubAuthorizationRuleId"),
    }
    if not any(destinations.values()):
        raise ApiError(
            400,
            "BadRequest",
            "At least one storage account, event hub or Log Analytics workspace must be specified.",
        )
    return DiagnosticSetting(
        name=name,
        categories=tuple(dict.fromkeys(categories)),
        event_hub_name=props.get("eventHubName") or None,
        **{k: v or None for k, v in destinations.items()},
    )
