"""The plan JSON read back into a Plan (the inverse of `Plan.to_dict()`), each change's target and
payload by its kind's module. The saved-plan document around it: saved_plan_file.py (its schema,
checked first) and saved_plan.py (what binds a plan to its manifest and live state)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from hsmsync.core.errors import HsmsyncError
from hsmsync.core.kinds import KINDS
from hsmsync.core.plan import Action, Change, Kind, Plan, Plane, UnmanagedItem
from hsmsync.core.target import TargetKind, parse_target

_SHARED = ("name", "role", "role_id", "principal", "principal_id", "principal_type")


def _change(order: int, d: dict[str, Any]) -> Change:
    kind, plane = KINDS[Kind(d["kind"])], Plane(d["plane"])
    if int(d["order"]) != order:
        raise ValueError(f"change {d['id']} says order {d['order']} but is change #{order} of the plan")
    target = parse_target(d["target"], kind.target_kind(plane, d["target"]))
    try:
        subject = kind.read_subject(plane, target, d)
    except ValidationError as exc:  # a payload or definition of the wrong shape: name the change
        fields = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(whole)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ValueError(f"change {d['id']}: its {exc.title}: {fields}") from None
    except ValueError as exc:
        raise ValueError(f"change {d['id']}: {exc}") from None
    # What the kind writes in the shared record must be what the file says (it may be hand-edited).
    for field in ("plane", *_SHARED):
        written = getattr(subject, field)
        if (written.value if field == "plane" else written) != d.get(field):
            raise ValueError(
                f"change {d['id']}: a {d['kind']} change has {field} {written!r}, not {d.get(field)!r}"
            )
    return Change(
        id=d["id"],
        action=Action(d["action"]),
        target=target,
        reason=d["reason"],
        subject=subject,
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
