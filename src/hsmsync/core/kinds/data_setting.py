"""A Managed HSM's own data-plane setting (GET/PATCH {hsm}/settings/{name}), such as whether
Azure Resource Manager may manage the HSM's keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hsmsync.core.kinds._edits import field_changes, only, required
from hsmsync.core.plan import Change, DataSettingSubject, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import DataSetting
from hsmsync.core.target import Target, TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


def target_kind(plane: Plane, text: str) -> TargetKind:
    return TargetKind.HSM


def read_subject(plane: Plane, target: Target, d: Mapping[str, Any]) -> DataSettingSubject:
    only(d, "data_setting", "payload", "field_changes")
    payload = DataSetting.model_validate(required(d.get("payload"), "data_setting", "setting"))
    changes = field_changes(d)
    # The planner writes one field change, the setting's, to the value it sets: words that say
    # otherwise would show a reviewer (and the risk flags) another change than the one applied.
    if [(f.path, f.new) for f in changes] != [(payload.name, payload.value)]:
        raise ValueError(
            f"a data_setting change sets {payload.name} to {payload.value!r}, "
            "but its field_changes say otherwise"
        )
    return DataSettingSubject(d["scope"], payload, changes)


def section(change: Change) -> tuple[int, str]:
    return (1, f"HSM {change.target} (resource settings and logging)")


def edit(editor: StateEditor, change: Change) -> Outcome:
    assert isinstance(change.payload, DataSetting)
    settings = editor.hsm(change.target.name).data_settings
    if settings.get(change.payload.name) == change.payload:
        return Outcome.ALREADY_DONE
    settings[change.payload.name] = change.payload  # a setting keeps its place in the listing
    return Outcome.DONE
