"""Shared wording for renderers: how a principal, a target and a change read."""

from __future__ import annotations

from hsmsync.core.plan import Change, Plane, UnmanagedItem

SYMBOL = {"create": "+", "update": "~", "delete": "-"}


def principal_label(change: Change | UnmanagedItem) -> str:
    if change.principal:
        return change.principal
    return change.principal_id or ""


def target_label(plane: Plane, target: str) -> str:
    if plane is Plane.MANAGEMENT:
        return "Azure RBAC (management plane)"
    return f"HSM {target} (data plane)"


def short_action(action: str) -> str:
    return action.removeprefix("Microsoft.KeyVault/managedHsm/")


def summary_line(summary: dict[str, int]) -> str:
    line = f"{summary['create']} to create, {summary['update']} to update, {summary['delete']} to delete"
    if summary["unmanaged"]:
        line += f"; {summary['unmanaged']} unmanaged left alone"
    return line
