"""Key Vault access policies (management plane), one entry per object id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hsmsync.core.kinds._edits import remove, replace_last
from hsmsync.core.plan import Action, Change, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import AccessPolicy
from hsmsync.core.target import TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


def target_kind(plane: Plane, text: str) -> TargetKind:
    return TargetKind.VAULT


def read_payload(plane: Plane, data: Any) -> AccessPolicy | None:
    return None if data is None else AccessPolicy.model_validate(data)


def section(change: Change) -> tuple[int, str]:
    return (2, f"Key Vault {change.target.name} (access policies)")


def edit(editor: StateEditor, change: Change) -> Outcome:
    policies = editor.vault_policies(change.target.name)
    if change.action is Action.DELETE:
        return remove(policies, change.name)
    assert isinstance(change.payload, AccessPolicy)
    return replace_last(policies, change.name, change.payload)
