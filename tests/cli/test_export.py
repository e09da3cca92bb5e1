"""`hsmsync export`: a manifest of what exists; planning it against the same state changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
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


def test_export_from_a_state_file_names_principals_from_the_manifest(contoso: Path):
    """Issue 9, item 13 (state-file path): -f names and types principals; every Azure RBAC
    assignment is declared except at the tenant root, which is left out with a note."""
    state = json.loads((contoso / "live-as-tutorial.json").read_text())
    state["directory"] = None  # nothing but the manifest and ARM to name principals by
    sub = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
    state["arm"]["role_assignments"] += [
        {
            "name": "7a6b5c4d-3333-4e3f-8a9b-000000000001",
            "scope": sub,
            "role_definition_id": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "principal_id": "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88",
            "principal_type": "User",
        },
        {
            "name": "7a6b5c4d-3333-4e3f-8a9b-000000000002",
            "scope": "/",
            "role_definition_id": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "principal_id": "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88",
            "principal_type": "User",
        },
    ]
    (contoso / "s.json").write_text(json.dumps(state))
    exported = run_cli("export", "--state", "s.json", "-f", "hsmsync.yaml", "-o", "x.yaml", cwd=contoso)
    assert exported.exit_code == 0, exported.stderr
    text = (contoso / "x.yaml").read_text()
    doc = yaml.safe_load(text)
    # the manifest's keys, types and names: auditors is a Group (not ServicePrincipal), app-vm keeps its key
    assert doc["principals"]["auditors"] == {
        "type": "Group",
        "id": "3b7d9e1f-5c2a-4f88-b6d0-1e4a7c9b2f33",
        "name": "Contoso App Auditors",
    }
    assert doc["principals"]["app-vm"]["type"] == "ServicePrincipal"
    assert doc["principals"]["principal-9d8e7f6a"]["type"] == "User"  # known to ARM only
    mgmt = [g for t in doc["teams"].values() for g in t.get("management", [])]
    assert {"role": "Owner", "scope": sub} in mgmt
    assert "is at the tenant root '/', which a manifest cannot declare; left out" in text
    plan = run_cli("plan", "-f", "x.yaml", "--state", "s.json", "--detailed-exitcode", cwd=contoso)
    assert plan.exit_code == 0, plan.stdout + plan.stderr


def test_the_exported_schema_reference_resolves_next_to_the_file(tmp_path):
    # Issue 12: export wrote `$schema=https://hsmsync.dev/...`, which nothing publishes. It now
    # names a relative path, and the schema `hsmsync schema manifest` writes there validates it.
    result = run_cli(
        "export", "--state", str(CONTOSO / "live-as-tutorial.json"), "-o", "out.yaml", cwd=tmp_path
    )
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "out.yaml").read_text()
    first = text.splitlines()[0]
    assert first == "# yaml-language-server: $schema=hsmsync.schema.json"
    assert "hsmsync.dev" not in text
    schema = run_cli("schema", "manifest", cwd=tmp_path).stdout
    (tmp_path / "hsmsync.schema.json").write_text(schema)
    reference = first.split("$schema=", 1)[1]
    jsonschema.validate(yaml.safe_load(text), json.loads((tmp_path / reference).read_text()))


@pytest.mark.parametrize("arm_trust", ["true", "false"])
def test_export_declares_the_hsms_data_plane_settings(contoso: Path, arm_trust: str):
    """An HSM whose data-plane settings were read is exported with them, the default too (pinned):
    planning the export against the same state changes nothing, and against an HSM whose setting
    differs it plans the update."""
    state = json.loads((contoso / "live-as-tutorial.json").read_text())
    state["hsms"]["contoso"]["data_settings"] = [
        {"name": "AllowKeyManagementOperationsThroughARM", "value": arm_trust, "type": "boolean"}
    ]
    (contoso / "settings.json").write_text(json.dumps(state))
    exported = run_cli("export", "--state", "settings.json", "-o", "exported.yaml", cwd=contoso)
    assert exported.exit_code == 0, exported.stderr
    doc = yaml.safe_load((contoso / "exported.yaml").read_text())
    assert doc["hsms"]["contoso"]["data_settings"] == {
        "AllowKeyManagementOperationsThroughARM": arm_trust == "true"
    }
    plan = run_cli(
        "plan", "-f", "exported.yaml", "--state", "settings.json", "--detailed-exitcode", cwd=contoso
    )
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    other = "false" if arm_trust == "true" else "true"
    state["hsms"]["contoso"]["data_settings"][0]["value"] = other
    (contoso / "other.json").write_text(json.dumps(state))
    drifted = run_cli(
        "plan", "-f", "exported.yaml", "--state", "other.json", "--detailed-exitcode", cwd=contoso
    )
    assert drifted.exit_code == 2, drifted.stdout + drifted.stderr
    assert (
        f"data-plane setting AllowKeyManagementOperationsThroughARM is {other}, the manifest says {arm_trust}"
        in (drifted.stdout)
    )


def test_export_leaves_data_settings_out_where_the_state_has_none(contoso: Path):
    exported = run_cli("export", "--state", "live-as-tutorial.json", cwd=contoso)
    assert "data_settings" not in yaml.safe_load(exported.stdout)["hsms"]["contoso"]


def test_export_keeps_a_users_compound_entries_apart_and_round_trips(contoso: Path):
    """A user's own entry and its entry through an application (a compound identity) both export,
    as a list, and plan no changes against the same state (prune: true would delete a lost one)."""
    state = json.loads((contoso / "live-as-tutorial.json").read_text())
    [first, *_] = state["vaults"]["contoso-kv"]["access_policies"]
    app = "5e1c2d3a-4b5f-4a6e-9c7d-8e9f0a1b2c3d"
    state["vaults"]["contoso-kv"]["access_policies"].append(
        {"object_id": first["object_id"], "application_id": app, "secrets": ["get"]}
    )
    (contoso / "compound.json").write_text(json.dumps(state))
    exported = run_cli("export", "--state", "compound.json", "-o", "exported.yaml", cwd=contoso)
    assert exported.exit_code == 0, exported.stderr
    policies = yaml.safe_load((contoso / "exported.yaml").read_text())["vaults"]["contoso-kv"][
        "access_policies"
    ]
    [listed] = [v for v in policies.values() if isinstance(v, list)]
    assert listed[0].get("application") is None and listed[1] == {"application": app, "secrets": ["get"]}
    plan = run_cli(
        "plan", "-f", "exported.yaml", "--state", "compound.json", "--detailed-exitcode", cwd=contoso
    )
    assert plan.exit_code == 0, plan.stdout + plan.stderr
