"""What the kinds share: edits of one indexed collection (idempotent like the services), and
reading a saved plan's optional change fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from hsmsync.core.plan import Change, FieldChange, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.target import TargetKind

T = TypeVar("T")


def replace_last(items: dict[str, T], name: str, item: T) -> Outcome:
    """Create or update `name`: an updated item moves to the end, as a service listing shows it."""
    if items.get(name) == item:
        return Outcome.ALREADY_DONE
    items.pop(name, None)
    items[name] = item
    return Outcome.DONE


def remove(items: dict[str, T], name: str) -> Outcome:
    return Outcome.DONE if items.pop(name, None) is not None else Outcome.ALREADY_DONE


_OPTIONAL = ("definition", "payload", "field_changes", "added_data_actions", "removed_data_actions")


def no_payload(kind: str, data: object) -> None:
    if data is not None:
        raise ValueError(f"a {kind} change carries no payload")


def only(d: Mapping[str, Any], kind: str, *allowed: str) -> None:
    """Refuse optional fields this kind never writes (a plan file may be hand-edited)."""
    extra = [k for k in _OPTIONAL if k in d and k not in allowed]
    if "payload" in extra:
        no_payload(kind, d["payload"])
    if extra:
        raise ValueError(f"a {kind} change carries no {extra[0]}")


def field_changes(d: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    return tuple(FieldChange(f["path"], f["old"], f["new"]) for f in d.get("field_changes", []))


def required(data: Any, kind: str, what: str) -> Any:
    if data is None:
        raise ValueError(f"a {kind} change needs its {what} as `payload`")
    return data


def rbac_target_kind(plane: Plane, text: str) -> TargetKind:
    """Role assignments and definitions: an HSM's on the data plane, Azure RBAC's on management."""
    return TargetKind.ARM if plane is Plane.MANAGEMENT else TargetKind.HSM


def rbac_section(change: Change) -> tuple[int, str]:
    if change.plane is Plane.DATA:
        return (0, f"HSM {change.target} (data plane)")
    return (3, "Azure RBAC (management plane)")
