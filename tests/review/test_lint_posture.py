"""Posture rules HSM005-HSM009: each fires on a manifest (or live state) and stays quiet on a close one."""

from __future__ import annotations

from typing import Any

from hsmsync.core.compile import compile_manifest
from hsmsync.core.lint import lint
from hsmsync.core.model import Manifest
from hsmsync.core.state import DiagnosticSetting, HsmSettings, HsmState, LiveState, VaultState
from tests.review.builders import RG, hsm, pid

VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/kv"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/logs"
GOOD = {"purge_protection": True, "soft_delete_retention_days": 90, "public_network_access": "Disabled"}


def _doc(
    *,
    settings: dict[str, Any] | None = GOOD,
    logging: bool = True,
    mgmt_role: str | None = None,
    vault_rbac: bool = False,
    min_days: int | None = None,
) -> dict[str, Any]:
    h: dict[str, Any] = dict(hsm("h1"))
    if settings is not None:
        h["settings"] = settings
    if logging:
        h["logging"] = {"storage_account": STORAGE}
    doc: dict[str, Any] = {
        "version": 1,
        "principals": {"ops": {"type": "Group", "id": pid("ops")}},
        "hsms": {"h1": h},
        "vaults": {"kv": {"url": "https://kv.vault.azure.net", "resource_id": VAULT, "rbac": vault_rbac}},
        "teams": {
            "ops": {"members": ["ops"], "management": [{"role": mgmt_role, "scope": RG}] if mgmt_role else []}
        },
    }
    if min_days is not None:
        doc["lint"] = {"min_soft_delete_retention_days": min_days}
    return doc


def _hits(doc: dict[str, Any], rule: str, live: LiveState | None = None) -> list[str]:
    manifest = Manifest.model_validate(doc)
    return [f.message for f in lint(manifest, compile_manifest(manifest), live).findings if f.rule_id == rule]


def test_hsm005_contributor_on_an_access_policy_vault_fires():
    assert _hits(_doc(mgmt_role="Contributor"), "HSM005") != []
    assert _hits(_doc(mgmt_role="Key Vault Contributor"), "HSM005") != []


def test_hsm005_quiet_for_reader_or_an_rbac_vault():
    assert _hits(_doc(mgmt_role="Reader"), "HSM005") == []
    assert _hits(_doc(mgmt_role="Contributor", vault_rbac=True), "HSM005") == []


def test_hsm006_fires_when_live_has_no_audit_logging_and_quiet_when_declared():
    live = LiveState(
        hsms={"h1": HsmState(url="https://h1.managedhsm.azure.net", resource_id=hsm("h1")["resource_id"])}
    )
    assert _hits(_doc(logging=False), "HSM006", live) == ["h1: no audit logging (AuditEvent)"]
    assert _hits(_doc(logging=True), "HSM006", live) == []
    # Without live state and without `logging:`, the tool cannot know: no finding.
    assert _hits(_doc(logging=False), "HSM006") == []


def test_hsm006_quiet_when_live_logs_audit_events():
    diag = DiagnosticSetting(name="d", categories=("AuditEvent",), storage_account_id=STORAGE)
    live = LiveState(
        hsms={"h1": HsmState(url="https://h1.managedhsm.azure.net", diagnostic_settings=(diag,))}
    )
    assert _hits(_doc(logging=False), "HSM006", live) == []


def test_hsm007_purge_protection():
    assert _hits(_doc(settings={**GOOD, "purge_protection": False}), "HSM007") == [
        "h1: purge protection is off"
    ]
    assert _hits(_doc(), "HSM007") == []
    live = LiveState(hsms={"h1": HsmState(url="u", settings=HsmSettings(purge_protection=False))})
    assert _hits(_doc(settings=None), "HSM007", live) != []


def test_hsm008_retention_threshold_is_configurable():
    short = {**GOOD, "soft_delete_retention_days": 14}
    assert _hits(_doc(settings=short), "HSM008") == ["h1: soft-delete retention is 14 days (below 30)"]
    assert _hits(_doc(settings=short, min_days=7), "HSM008") == []
    assert _hits(_doc(), "HSM008") == []


def test_hsm009_public_network_access():
    assert _hits(_doc(settings={**GOOD, "public_network_access": "Enabled"}), "HSM009") != []
    assert _hits(_doc(), "HSM009") == []


def _live_vault(rbac: bool) -> LiveState:
    vault = VaultState(url="https://kv.vault.azure.net", resource_id=VAULT, enable_rbac_authorization=rbac)
    return LiveState(hsms={"h1": HsmState(**hsm("h1"))}, vaults={"kv": vault})


def test_hsm005_follows_the_vaults_live_permission_model_when_known():
    # Declared rbac: true, but the vault still uses access policies: Contributor can grant itself access.
    assert _hits(_doc(mgmt_role="Contributor", vault_rbac=True), "HSM005", _live_vault(False)) != []
    assert _hits(_doc(mgmt_role="Contributor"), "HSM005", _live_vault(True)) == []


def test_hsm011_permission_model_mismatch_is_an_error_only_when_live_state_is_known():
    [hit] = _hits(_doc(vault_rbac=True), "HSM011", _live_vault(False))
    assert hit == "vault kv uses access policies; the manifest says rbac: true"
    assert _hits(_doc(), "HSM011", _live_vault(True)) == [
        "vault kv uses Azure RBAC; the manifest says rbac: false"
    ]
    assert _hits(_doc(vault_rbac=True), "HSM011", _live_vault(True)) == []
    assert _hits(_doc(vault_rbac=True), "HSM011") == []
