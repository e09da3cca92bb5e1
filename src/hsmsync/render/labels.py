"""Shared wording for renderers: how a principal, a target and a change read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby

from hsmsync.core.plan import Change, FieldChange, Kind, Plane, UnmanagedItem

SYMBOL = {"create": "+", "update": "~", "delete": "-"}


def principal_label(change: Change | UnmanagedItem) -> str:
    if change.principal:
        return change.principal
    return change.principal_id or ""


def section_of(change: Change) -> tuple[int, str]:
    """The heading a change is listed under, with its rank among headings."""
    if change.plane is Plane.DATA:
        return (0, f"HSM {change.target} (data plane)")
    if change.target.startswith("vault:") and change.kind is Kind.SETTING:
        return (2, f"Key Vault {change.target.removeprefix('vault:')} (permission model)")
    if change.kind in (Kind.SETTING, Kind.DIAGNOSTIC_SETTING):
        return (1, f"HSM {change.target} (resource settings and logging)")
    if change.kind is Kind.ACCESS_POLICY:
        return (2, f"Key Vault {change.target.removeprefix('vault:')} (access policies)")
    return (3, "Azure RBAC (management plane)")


def sectioned(changes: Iterable[Change]) -> Iterator[tuple[str, list[Change]]]:
    ordered = sorted(changes, key=lambda c: (section_of(c), c.order))
    for (_, title), group in groupby(ordered, key=section_of):
        yield title, list(group)


def field_change_text(f: FieldChange) -> str:
    return f"{f.path}: {_value(f.old)} -> {_value(f.new)}"


def list_delta_text(f: FieldChange) -> str:
    """`keys +sign -list` for permission lists; plain old -> new otherwise."""
    if isinstance(f.old, list) and isinstance(f.new, list):
        added = [f"+{x}" for x in f.new if x not in f.old]
        removed = [f"-{x}" for x in f.old if x not in f.new]
        return f"{f.path} " + " ".join(added + removed)
    return field_change_text(f)


def _value(v: object) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def short_action(action: str) -> str:
    return action.removeprefix("Microsoft.KeyVault/managedHsm/")


def summary_line(summary: dict[str, int]) -> str:
    line = f"{summary['create']} to create, {summary['update']} to update, {summary['delete']} to delete"
    if summary["unmanaged"]:
        line += f"; {summary['unmanaged']} unmanaged left alone"
    return line
