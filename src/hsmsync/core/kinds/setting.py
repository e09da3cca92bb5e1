"""Resource settings: a Managed HSM's properties, and a Key Vault's permission model (reported
as drift, never switched: see core/vault_permissions.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hsmsync.core.kinds._edits import field_changes, only, required
from hsmsync.core.plan import Change, PermissionModelSubject, Plane, SettingsSubject
from hsmsync.core.results import Outcome
from hsmsync.core.state import HsmSettingsPatch
from hsmsync.core.target import Target, TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor

_VAULT_PREFIX = "vault:"  # an HSM's name never holds a colon (core/names.py)


def target_kind(plane: Plane, text: str) -> TargetKind:
    return TargetKind.VAULT if text.startswith(_VAULT_PREFIX) else TargetKind.HSM


def read_subject(
    plane: Plane, target: Target, d: Mapping[str, Any]
) -> SettingsSubject | PermissionModelSubject:
    if target.kind is TargetKind.VAULT:
        only(d, "setting", "field_changes")
        return PermissionModelSubject(d["scope"], field_changes(d))
    only(d, "setting", "payload", "field_changes")
    payload = HsmSettingsPatch.model_validate(required(d.get("payload"), "setting", "settings"))
    return SettingsSubject(d["scope"], payload, field_changes(d))


def section(change: Change) -> tuple[int, str]:
    if change.target.kind is TargetKind.VAULT:
        return (2, f"Key Vault {change.target.name} (permission model)")
    return (1, f"HSM {change.target} (resource settings and logging)")


def edit(editor: StateEditor, change: Change) -> Outcome:
    if change.target.kind is TargetKind.VAULT:
        return Outcome.ALREADY_DONE  # reported, never made: the vault keeps its model
    hsm = editor.hsm(change.target.name)
    assert isinstance(change.payload, HsmSettingsPatch)
    settings = change.payload.applied_to(hsm.settings)  # unmanaged fields keep their values
    if settings == hsm.settings:
        return Outcome.ALREADY_DONE
    hsm.settings = settings
    return Outcome.DONE
