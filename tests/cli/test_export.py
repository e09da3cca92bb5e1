"""`hsmsync export`: a manifest of what exists; planning it against the same state changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import CONTOSO, run_cli


@pytest.mark.parametrize("state", ["empty-state.json", "live-as-tutorial.json", "applied"])
def test_export_round_trip_plans_no_changes(contoso: Path, state: str):
    if state == "applied":
        assert run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso).exit_code == 0
        state = "state.json"
    exported = run_cli("export", "--state", state, "-o", "exported.yaml", cwd=contoso)
    assert exported.exit_code == 0, exported.stderr
    plan = run_cli("plan", "-f", "exported.yaml", "--state", state, "--detailed-exitcode", cwd=contoso)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "No changes." in plan.stdout


def test_export_is_deterministic_and_groups_teams(contoso: Path):
    first = run_cli("export", "--state", "live-as-tutorial.json", cwd=contoso).stdout
    assert first == run_cli("export", "--state", "live-as-tutorial.json", cwd=contoso).stdout
    doc = yaml.safe_load(first)
    # The auditors group and the VM identity hold the same single role: one team.
    teams = {tuple(t["members"]): t for t in doc["teams"].values()}
    assert ("contoso-app-auditors", "contoso-app-vm") in teams
    assert doc["principals"]["contoso-subscription-admin"] == {
        "type": "User",
        "id": "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88",
        "name": "Contoso Subscription Admin",
    }
    assert doc["vaults"]["contoso-kv"]["access_policies"]["contoso-app-auditors"] == {
        "keys": ["list"],
        "secrets": ["list"],
    }


def test_export_of_an_applied_contoso_keeps_custom_roles_pinned(contoso: Path):
    assert run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso).exit_code == 0
    doc = yaml.safe_load(run_cli("export", "--state", "state.json", cwd=contoso).stdout)
    assert doc["roles"]["contoso-key-rotator"]["id"] == "92f65729-5383-545d-9f29-eeaa1b4f189f"
    assert doc["arm_roles"]["contoso-app-devops"]["assignable_scopes"] == [
        "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
    ]
    assert doc["hsms"]["contoso"]["settings"]["public_network_access"] == "Disabled"


def test_export_unknown_hsm_is_an_error(tmp_path: Path):
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "s.json")
    result = run_cli("export", "--state", "s.json", "--hsm", "nope", cwd=tmp_path)
    assert result.exit_code == 1
    assert "no such HSM: nope; known: contoso" in result.stderr
