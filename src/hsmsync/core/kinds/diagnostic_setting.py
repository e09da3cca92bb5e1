"""A Managed HSM's diagnostic setting (audit logging), management plane."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hsmsync.core.kinds._edits import replace_last
from hsmsync.core.plan import Change, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import DiagnosticSetting
from hsmsync.core.target import TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


def target_kind(plane: Plane, text: str) -> TargetKind:
    return TargetKind.HSM


def read_payload(plane: Plane, data: Any) -> DiagnosticSetting | None:
    return None if data is None else DiagnosticSetting.model_validate(data)


def section(change: Change) -> tuple[int, str]:
    return (1, f"HSM {change.target} (resource settings and logging)")


def edit(editor: StateEditor, change: Change) -> Outcome:
    assert isinstance(change.payload, DiagnosticSetting)
    return replace_last(editor.hsm(change.target.name).diagnostics, change.payload.name, change.payload)
