"""The plan JSON read back into a Plan (the inverse of `Plan.to_dict()`), each change's target and
payload by its kind's module. The saved-plan document around it: saved_plan_file.py (its schema,
checked first) and saved_plan.py (what binds a plan to its manifest and live state)."""

from __future__ import annotations

from typing import Any

from hsmsync.core.errors import HsmsyncError
from hsmsync.core.kinds import KINDS
from hsmsync.core.plan import Action, Change, FieldChange, Kind, Plan, Plane, UnmanagedItem
from hsmsync.core.state import RoleDefinition
from hsmsync.core.target import TargetKind, parse_target


def _change(order: int, d: dict[str, Any]) -> Change:
    kind, plane = KINDS[Kind(d["kind"])], Plane(d["plane"])
    if int(d["order"]) != order:
        raise ValueError(f"change {d['id']} says order {d['order']} but is change #{order} of the plan")
    return Change(
        id=d["id"],
        action=Action(d["action"]),
        kind=Kind(d["kind"]),
        plane=plane,
        target=parse_target(d["target"], kind.target_kind(plane, d["target"])),
        scope=d["scope"],
        name=d["name"],
        role=d["role"],
        role_id=d["role_id"],
        reason=d["reason"],
        principal=d.get("principal"),
        principal_id=d.get("principal_id"),
        principal_type=d.get("principal_type"),
        definition=RoleDefinition.model_validate(d["definition"]) if d.get("definition") else None,
        payload=kind.read_payload(plane, d.get("payload")),
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
