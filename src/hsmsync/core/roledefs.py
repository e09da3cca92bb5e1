"""Field-by-field comparison of custom role definitions (deepdiff)."""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff

from hsmsync.core.plan import FieldChange
from hsmsync.core.state import RoleDefinition


def _comparable(role: RoleDefinition) -> dict[str, Any]:
    # The service treats action names case-insensitively and does not keep their order.
    return {
        "role_name": role.role_name,
        "description": role.description,
        "data_actions": sorted({a.lower() for a in role.data_actions}),
        "not_data_actions": sorted({a.lower() for a in role.not_data_actions}),
    }


def diff_role_definition(
    live: RoleDefinition, desired: RoleDefinition
) -> tuple[tuple[FieldChange, ...], tuple[str, ...], tuple[str, ...]] | None:
    """None when equal; else (changed fields, data actions added, data actions removed)."""
    delta = DeepDiff(_comparable(live), _comparable(desired), ignore_order=True)
    if not delta:
        return None
    changed = set(delta.affected_root_keys)
    fields = [
        FieldChange(name, getattr(live, name), getattr(desired, name))
        for name in ("role_name", "description", "data_actions", "not_data_actions")
        if name in changed
    ]
    live_actions = {a.lower(): a for a in live.data_actions}
    want_actions = {a.lower(): a for a in desired.data_actions}
    added = tuple(sorted(want_actions[a] for a in want_actions.keys() - live_actions.keys()))
    removed = tuple(sorted(live_actions[a] for a in live_actions.keys() - want_actions.keys()))
    return tuple(fields), added, removed
