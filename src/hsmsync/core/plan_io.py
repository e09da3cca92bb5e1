"""Saved plans: `plan --out plan.json` writes `Plan.to_dict()`; `apply plan.json` reads it back."""

from __future__ import annotations

from typing import Any

from hsmsync.core.errors import HsmsyncError
from hsmsync.core.plan import Action, Change, FieldChange, Kind, Payload, Plan, Plane, UnmanagedItem
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DiagnosticSetting,
    HsmSettingsPatch,
    RoleDefinition,
)


def _payload(kind: Kind, plane: Plane, data: Any) -> Payload | None:
    if data is None:
        return None
    model: type[Payload]
    if kind is Kind.ROLE_DEFINITION and plane is Plane.MANAGEMENT:
        model = ArmRoleDefinition
    elif kind is Kind.ACCESS_POLICY:
        model = AccessPolicy
    elif kind is Kind.DIAGNOSTIC_SETTING:
        model = DiagnosticSetting
    elif kind is Kind.SETTING:
        model = HsmSettingsPatch
    else:
        raise ValueError(f"a {kind.value} change carries no payload")
    return model.model_validate(data)


def _change(d: dict[str, Any]) -> Change:
    return Change(
        id=d["id"],
        order=int(d["order"]),
        action=Action(d["action"]),
        kind=Kind(d["kind"]),
        plane=Plane(d["plane"]),
        target=d["target"],
        scope=d["scope"],
        name=d["name"],
        role=d["role"],
        role_id=d["role_id"],
        reason=d["reason"],
        principal=d.get("principal"),
        principal_id=d.get("principal_id"),
        principal_type=d.get("principal_type"),
        definition=RoleDefinition.model_validate(d["definition"]) if d.get("definition") else None,
        payload=_payload(Kind(d["kind"]), Plane(d["plane"]), d.get("payload")),
        field_changes=tuple(FieldChange(f["path"], f["old"], f["new"]) for f in d.get("field_changes", [])),
        added_data_actions=tuple(d.get("added_data_actions", [])),
        removed_data_actions=tuple(d.get("removed_data_actions", [])),
        risks=tuple(d.get("risks", [])),
    )


def plan_from_dict(data: Any) -> Plan:
    try:
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not an hsmsync plan (version 1)")
        return Plan(
            changes=tuple(_change(c) for c in data["changes"]),
            unmanaged=tuple(
                UnmanagedItem(**{**u, "plane": Plane(u["plane"])}) for u in data.get("unmanaged", [])
            ),
            warnings=tuple(data.get("warnings", [])),
            notes=tuple(data.get("notes", [])),
            live_fingerprint=str(data.get("live_fingerprint", "")),
            refusals=tuple(data.get("refusals", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise HsmsyncError(f"saved plan is malformed: {exc}") from None
