"""Shared wording for renderers: how a principal, a target and a change read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby

from hsmsync.core.kinds import kind_of
from hsmsync.core.plan import (
    AccessPolicySubject,
    Action,
    Change,
    FieldChange,
    Kind,
    Plane,
    RoleAssignmentSubject,
    UnmanagedItem,
)
from hsmsync.core.state import ArmRoleDefinition, Permission

SYMBOL = {"create": "+", "update": "~", "delete": "-"}


def principal_label(change: Change | UnmanagedItem) -> str:
    who = change.principal or change.principal_id or ""
    # a compound identity's entry: the principal only through that application
    subject = change.subject if isinstance(change, Change) else None
    app = subject.application_id if isinstance(subject, AccessPolicySubject) else None
    return f"{who} via application {app}" if app else who


def section_of(change: Change) -> tuple[int, str]:
    """The heading a change is listed under, with its rank among headings (its kind says)."""
    return kind_of(change).section(change)


def sectioned(changes: Iterable[Change]) -> Iterator[tuple[str, list[Change]]]:
    ordered = sorted(changes, key=section_of)  # stable: plan order within a section
    for (_, title), group in groupby(ordered, key=section_of):
        yield title, list(group)


def field_change_text(f: FieldChange) -> str:
    return f"{f.path}: {_value(f.old)} -> {_value(f.new)}"


def list_delta_text(f: FieldChange) -> str:
    """`keys +sign -list` for permission lists; plain old -> new otherwise."""
    if isinstance(f.old, list) and isinstance(f.new, list):
        added = [f"+{short_action(str(x))}" for x in f.new if x not in f.old]
        removed = [f"-{short_action(str(x))}" for x in f.old if x not in f.new]
        return f"{f.path} " + " ".join(added + removed)
    return field_change_text(f)


_LIST_LABELS = (
    ("actions", "actions"),
    ("not_actions", "not actions"),
    ("data_actions", "data actions"),
    ("not_data_actions", "not data actions"),
)


def permission_lines(blocks: Sequence[Permission]) -> list[str]:
    """`data actions: keys/read/action, keys/rotate/action` per permission block (numbered when
    there are several: Azure evaluates each block on its own)."""
    out = []
    for i, block in enumerate(blocks):
        parts = [
            f"{label}: {', '.join(short_action(a) for a in getattr(block, name))}"
            for name, label in _LIST_LABELS
            if getattr(block, name)
        ]
        prefix = f"block {i + 1}: " if len(blocks) > 1 else ""
        out.append(prefix + ("; ".join(parts) or "no permissions"))
    return out


def subject(c: Change) -> str:
    """What a change is about, labelled by kind (a role definition never reads like an assignment)."""
    if c.kind is Kind.ROLE_DEFINITION:
        azure = "Azure " if c.plane is Plane.MANAGEMENT else ""
        return f"{azure}role definition '{c.role}' ({c.role_id})"
    if c.kind is Kind.ACCESS_POLICY:
        return f"access policy for {principal_label(c)}"
    if c.kind is Kind.DIAGNOSTIC_SETTING:
        return f"audit logging '{c.name}'"
    if c.kind is Kind.DATA_SETTING:
        return f"data-plane setting {c.name}"
    if c.kind is Kind.SETTING:
        return c.role  # what the settings belong to: "HSM settings", "vault permission model"
    who = principal_label(c) + (f" ({c.principal_type})" if c.principal_type else "")
    return f"{c.role} -> {who} at {c.scope}"


def change_details(c: Change) -> list[str]:
    """The facts every renderer shows with a change, in the same words: a role definition's
    permission blocks (created or deleted) or what differs (updated), an access policy's lists,
    a setting's old and new value."""
    if c.kind is Kind.ROLE_DEFINITION:
        role = c.payload if isinstance(c.payload, ArmRoleDefinition) else c.definition
        if c.action is Action.UPDATE:
            # block by block, then what the role really gains or loses with every block evaluated
            # (an action moved between blocks changes two lists and maybe nothing in effect)
            effect = [f"+{short_action(a)}" for a in c.added_data_actions]
            effect += [f"-{short_action(a)}" for a in c.removed_data_actions]
            in_effect = ["in effect: " + " ".join(effect)] if effect else []
            return [list_delta_text(f) for f in c.field_changes] + in_effect
        return permission_lines(role.permissions) if role is not None else []
    if c.kind is Kind.ACCESS_POLICY and c.action is Action.CREATE:
        lists = "; ".join(f"{f.path}: {', '.join(f.new)}" for f in c.field_changes if f.new)
        return [lists] if lists else []
    if c.kind in (Kind.SETTING, Kind.DIAGNOSTIC_SETTING, Kind.DATA_SETTING):
        return [field_change_text(f) for f in c.field_changes]
    if isinstance(c.subject, RoleAssignmentSubject) and c.action is Action.CREATE and c.subject.condition:
        return [f"condition ({c.subject.condition_version}): {c.subject.condition}"]
    return [list_delta_text(f) for f in c.field_changes]


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
