"""Resource settings: a Managed HSM's properties, and a Key Vault's permission model (reported
as drift, never switched: see core/vault_permissions.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hsmsync.core.plan import Change, Plane
from hsmsync.core.results import Outcome
from hsmsync.core.state import HsmSettingsPatch
from hsmsync.core.target import TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor

_VAULT_PREFIX = "vault:"  # an HSM's name never holds a colon (core/names.py)


def target_kind(plane: Plane, text: str) -> TargetKind:
    return TargetKind.VAULT if text.startswith(_VAULT_PREFIX) else TargetKind.HSM


def read_payload(plane: Plane, data: Any) -> HsmSettingsPatch | None:
    return None if data is None else HsmSettingsPatch.model_validate(data)


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
