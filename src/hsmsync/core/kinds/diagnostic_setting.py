"""A Managed HSM's diagnostic setting (audit logging), management plane."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hsmsync.core.kinds._edits import field_changes, only, replace_last, required
from hsmsync.core.plan import Change, DiagnosticSettingSubject, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import DiagnosticSetting
from hsmsync.core.target import Target, TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


def target_kind(plane: Plane, text: str) -> TargetKind:
    return TargetKind.HSM


def read_subject(plane: Plane, target: Target, d: Mapping[str, Any]) -> DiagnosticSettingSubject:
    only(d, "diagnostic_setting", "payload", "field_changes")
    payload = DiagnosticSetting.model_validate(required(d.get("payload"), "diagnostic_setting", "setting"))
    return DiagnosticSettingSubject(d["scope"], payload, field_changes(d))


def section(change: Change) -> tuple[int, str]:
    return (1, f"HSM {change.target} (resource settings and logging)")


def edit(editor: StateEditor, change: Change) -> Outcome:
    assert isinstance(change.payload, DiagnosticSetting)
    return replace_last(editor.hsm(change.target.name).diagnostics, change.payload.name, change.payload)
