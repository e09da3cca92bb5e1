"""Issue 9 item 8: a vault whose live permission model differs from the manifest's `rbac` is drift in
plan, drift and lint; hsmsync reports it (high-risk) and never switches the model itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def _converge(contoso: Path) -> None:
    assert run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso).exit_code == 0


def _set_live_rbac(contoso: Path, rbac: bool) -> None:
    data = json.loads((contoso / "state.json").read_text())
    data["vaults"]["contoso-kv"]["enable_rbac_authorization"] = rbac
    (contoso / "state.json").write_text(json.dumps(data))


@pytest.fixture
def declared_rbac_live_policies(contoso: Path) -> Path:
    """In sync, then the manifest says `rbac: true` while the vault still uses access policies."""
    _converge(contoso)
    manifest = contoso / "hsmsync.yaml"
    text = manifest.read_text()
    start = text.index("    prune: true\n    access_policies:")
    end = text.index("\narm_roles:")
    manifest.write_text(text[:start] + "    rbac: true\n" + text[end:])
    return contoso


def test_plan_shows_the_mismatch_as_a_high_risk_change(declared_rbac_live_policies: Path):
    result = run_cli("plan", "--state", "state.json", "--detailed-exitcode", cwd=declared_rbac_live_policies)
    assert result.exit_code == 2, result.stderr
    assert "Key Vault contoso-kv (permission model)" in result.stdout
    assert "~ vault permission model\n      permission_model: access policies -> Azure RBAC" in result.stdout
    assert "risk: vault permission model is access policies, not Azure RBAC" in result.stdout
    assert "warning: vault contoso-kv: the vault uses access policies" in result.stdout
    doc = json.loads(
        run_cli("plan", "--state", "state.json", "--format", "json", cwd=declared_rbac_live_policies).stdout
    )
    [change] = [c for c in doc["changes"] if c["target"] == "vault:contoso-kv"]
    assert change["action"] == "update" and change["risks"]


def test_drift_counts_the_mismatch(declared_rbac_live_policies: Path):
    result = run_cli("drift", "--state", "state.json", "--format", "json", cwd=declared_rbac_live_policies)
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert [d["name"] for d in report["drifted"]] == ["permission_model"]


def test_lint_rates_the_mismatch_an_error(declared_rbac_live_policies: Path):
    result = run_cli("lint", "--state", "state.json", cwd=declared_rbac_live_policies)
    assert result.exit_code == 1
    assert "HSM011" in result.stdout and "vault contoso-kv uses access policies" in result.stdout
    assert "HSM011" not in run_cli("lint", cwd=declared_rbac_live_policies).stdout  # no live state: unknown


def test_apply_applies_the_rest_but_never_switches_the_model(contoso: Path):
    _set_live_rbac(contoso, True)  # the manifest says access policies (rbac: false)
    result = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 1
    assert "hsmsync does not switch the permission model of vault contoso-kv" in result.stdout
    state = json.loads((contoso / "state.json").read_text())
    assert state["vaults"]["contoso-kv"]["enable_rbac_authorization"] is True
    assert len(state["vaults"]["contoso-kv"]["access_policies"]) == 3  # the other changes were applied
    drift = run_cli("drift", "--state", "state.json", cwd=contoso)
    assert drift.exit_code == 2 and "permission_model: Azure RBAC -> access policies" in drift.stdout
