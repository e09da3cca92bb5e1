"""Key Vault access policies (management plane), one entry per object id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hsmsync.core.kinds._edits import field_changes, only, remove, replace_last, required
from hsmsync.core.plan import AccessPolicySubject, Action, Change, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import AccessPolicy
from hsmsync.core.target import Target, TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


def target_kind(plane: Plane, text: str) -> TargetKind:
    return TargetKind.VAULT


def read_subject(plane: Plane, target: Target, d: Mapping[str, Any]) -> AccessPolicySubject:
    only(d, "access_policy", "payload", "field_changes")
    payload = AccessPolicy.model_validate(required(d.get("payload"), "access_policy", "entry"))
    return AccessPolicySubject(
        d["scope"], d["principal_id"], d.get("principal"), d.get("principal_type"), payload, field_changes(d)
    )


def section(change: Change) -> tuple[int, str]:
    return (2, f"Key Vault {change.target.name} (access policies)")


def edit(editor: StateEditor, change: Change) -> Outcome:
    policies = editor.vault_policies(change.target.name)
    if change.action is Action.DELETE:
        return remove(policies, change.name)
    assert isinstance(change.payload, AccessPolicy)
    return replace_last(policies, change.name, change.payload)
