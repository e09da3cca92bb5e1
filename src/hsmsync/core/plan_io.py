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
from hsmsync.core.target import Target, TargetKind, parse_target


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


def _target(kind: Kind, plane: Plane, text: str) -> Target:
    """The kind of a change says what its target is (`arm` alone could be an HSM's name)."""
    if kind in (Kind.ROLE_ASSIGNMENT, Kind.ROLE_DEFINITION):
        return parse_target(text, TargetKind.ARM if plane is Plane.MANAGEMENT else TargetKind.HSM)
    if kind is Kind.ACCESS_POLICY or (kind is Kind.SETTING and text.startswith("vault:")):
        return parse_target(text, TargetKind.VAULT)
    return parse_target(text, TargetKind.HSM)


def _change(order: int, d: dict[str, Any]) -> Change:
    if int(d["order"]) != order:
        raise ValueError(f"change {d['id']} says order {d['order']} but is change #{order} of the plan")
    return Change(
        id=d["id"],
        action=Action(d["action"]),
        kind=Kind(d["kind"]),
        plane=Plane(d["plane"]),
        target=_target(Kind(d["kind"]), Plane(d["plane"]), d["target"]),
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


def _unmanaged(u: dict[str, Any]) -> UnmanagedItem:
    plane = Plane(u["plane"])
    target = parse_target(u["target"], TargetKind.ARM if plane is Plane.MANAGEMENT else TargetKind.HSM)
    return UnmanagedItem(**{**u, "plane": plane, "target": target})


def plan_from_dict(data: Any) -> Plan:
    try:
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not an hsmsync plan (version 1)")
        return Plan(
            changes=tuple(_change(i, c) for i, c in enumerate(data["changes"], start=1)),
            unmanaged=tuple(_unmanaged(u) for u in data.get("unmanaged", [])),
            warnings=tuple(data.get("warnings", [])),
            notes=tuple(data.get("notes", [])),
            live_fingerprint=str(data.get("live_fingerprint", "")),
            refusals=tuple(data.get("refusals", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise HsmsyncError(f"saved plan is malformed: {exc}") from None
