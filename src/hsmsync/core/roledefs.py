"""Field-by-field comparison of custom role definitions, block by block.

A role's permission blocks are compared position by position and never merged: Azure evaluates
each block on its own, so the same actions spread over other blocks can mean other rights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hsmsync.core.grants import effective_data_actions
from hsmsync.core.plan import FieldChange
from hsmsync.core.state import PERMISSION_LISTS, ArmRoleDefinition, Permission, RoleDefinition

DATA_LISTS = ("data_actions", "not_data_actions")
ALL_LISTS = PERMISSION_LISTS


def _same(old: Sequence[str], new: Sequence[str], exact: bool) -> bool:
    # The data plane treats action names case-insensitively and does not keep their order.
    return tuple(old) == tuple(new) if exact else {a.lower() for a in old} == {a.lower() for a in new}


def permission_changes(
    live: Sequence[Permission], desired: Sequence[Permission], lists: Sequence[str], *, exact: bool = False
) -> tuple[FieldChange, ...]:
    """`permissions[i].<list>` changes, block i against block i; an added or removed block shows
    its lists against empty ones."""
    out: list[FieldChange] = []
    for i in range(max(len(live), len(desired))):
        old = live[i] if i < len(live) else None
        new = desired[i] if i < len(desired) else None
        if (old is None or new is None) and not any(getattr(b, f) for b in (old, new) if b for f in lists):
            out.append(FieldChange(f"permissions[{i}]", _block(old, lists), _block(new, lists)))
            continue
        for name in lists:
            before = list(getattr(old, name)) if old else []
            after = list(getattr(new, name)) if new else []
            if (old is None or new is None) and not (before or after):
                continue
            if old is None or new is None or not _same(before, after, exact):
                out.append(FieldChange(f"permissions[{i}].{name}", before, after))
    return tuple(out)


def _block(block: Permission | None, lists: Sequence[str]) -> dict[str, Any] | None:
    return None if block is None else {name: list(getattr(block, name)) for name in lists}


def granted_data_actions(role: RoleDefinition) -> tuple[str, ...]:
    """The data actions a new role grants (every block evaluated), for the plan's `+` list."""
    return tuple(sorted(effective_data_actions(role), key=str.lower))


def diff_role_definition(
    live: RoleDefinition, desired: RoleDefinition
) -> tuple[tuple[FieldChange, ...], tuple[str, ...], tuple[str, ...]] | None:
    """None when equal; else (changed fields, data actions the role gains, data actions it loses).

    Gained and lost are effective actions (every block evaluated), so moving an action from one
    block to another shows what it really changes."""
    fields = [
        FieldChange(name, getattr(live, name), getattr(desired, name))
        for name in ("role_name", "description")
        if getattr(live, name) != getattr(desired, name)
    ]
    fields += permission_changes(live.permissions, desired.permissions, DATA_LISTS)
    if not fields:
        return None
    have, want = effective_data_actions(live), effective_data_actions(desired)
    return tuple(fields), tuple(sorted(want - have, key=str.lower)), tuple(sorted(have - want, key=str.lower))


def arm_role_changes(live: ArmRoleDefinition, desired: ArmRoleDefinition) -> tuple[FieldChange, ...]:
    """What differs between a live custom Azure role and the manifest's, block by block."""
    fields = [
        FieldChange(name, _plain(getattr(live, name)), _plain(getattr(desired, name)))
        for name in ("role_name", "description", "assignable_scopes")
        if getattr(live, name) != getattr(desired, name)
    ]
    return (*fields, *permission_changes(live.permissions, desired.permissions, ALL_LISTS, exact=True))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
