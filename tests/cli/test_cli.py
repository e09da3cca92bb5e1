"""The CLI end to end on the fake backend, in-process."""

from __future__ import annotations

import json
from pathlib import Path

from hsmsync.schemas import manifest_schema, state_schema
from tests.conftest import REPO, run_cli

VM = "8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44"
AUDITOR = "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3"
CRYPTO_USER = "21dbd100-6940-42c2-9190-5d6cb909625b"


def test_plan_apply_replan_converges(contoso: Path):
    plan = run_cli("plan", "--state", "state.json", "--detailed-exitcode", cwd=contoso)
    assert plan.exit_code == 2
    assert "13 to create, 1 to update, 0 to delete" in plan.stdout
    applied = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert applied.exit_code == 0, applied.stderr
    assert "Apply complete: 14 applied, 0 already so." in applied.stdout
    again = run_cli("plan", "--state", "state.json", "--detailed-exitcode", cwd=contoso)
    assert again.exit_code == 0
    assert "No changes." in again.stdout


def test_tutorial_state_plan_corrects_the_vm_identity(contoso: Path):
    result = run_cli("plan", "--state", "live-as-tutorial.json", "--format", "json", cwd=contoso)
    changes = json.loads(result.stdout)["changes"]
    vm = [
        (c["action"], c["role_id"])
        for c in changes
        if c["principal_id"] == VM and c["kind"] == "role_assignment"
    ]
    assert vm == [("create", CRYPTO_USER), ("delete", AUDITOR)]


def test_json_plan_has_the_documented_fields(contoso: Path):
    data = json.loads(run_cli("plan", "--state", "state.json", "--format", "json", cwd=contoso).stdout)
    assert set(data) >= {"changes", "summary"}
    required = {
        "action",
        "kind",
        "plane",
        "target",
        "scope",
        "role",
        "role_id",
        "principal",
        "principal_id",
        "reason",
        "id",
        "order",
    }
    for change in data["changes"]:
        assert required <= set(change)


def test_saved_plan_is_applied_as_saved(contoso: Path):
    assert run_cli("plan", "--state", "state.json", "--out", "plan.json", cwd=contoso).exit_code == 0
    result = run_cli("apply", "plan.json", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 0, result.stderr
    assert run_cli("plan", "--state", "state.json", "--detailed-exitcode", cwd=contoso).exit_code == 0
    # The plan was made against the state before it was applied: using it again is refused.
    again = run_cli("apply", "plan.json", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert again.exit_code == 1 and "stale" in again.stderr


def test_apply_refuses_without_a_tty_or_approval(contoso: Path):
    before = (contoso / "state.json").read_text()
    result = run_cli("apply", "--state", "state.json", cwd=contoso, tty=False)
    assert result.exit_code == 1
    assert "--auto-approve" in result.stderr
    assert (contoso / "state.json").read_text() == before


def test_apply_asks_on_a_tty_and_only_yes_proceeds(contoso: Path):
    before = (contoso / "state.json").read_text()
    no = run_cli("apply", "--state", "state.json", cwd=contoso, tty=True, stdin="y\n")
    assert no.exit_code == 1 and "cancelled" in no.stdout
    assert (contoso / "state.json").read_text() == before
    yes = run_cli("apply", "--state", "state.json", cwd=contoso, tty=True, stdin="yes\n")
    assert yes.exit_code == 0 and "Apply complete" in yes.stdout


def test_roles_json_is_in_rest_shape():
    result = run_cli("roles", "--format", "json", cwd=REPO)
    roles = json.loads(result.stdout)
    admin = next(r for r in roles if r["name"] == "a290e904-7015-4bba-90c8-60543313cdb4")
    assert admin["properties"]["roleName"] == "Managed HSM Administrator"
    assert admin["properties"]["type"] == "AKVBuiltInRole"
    perms = admin["properties"]["permissions"][0]
    assert set(perms) == {"actions", "notActions", "dataActions", "notDataActions"}
    assert "Microsoft.KeyVault/managedHsm/roleAssignments/write/action" in perms["dataActions"]
    names = {r["properties"]["roleName"] for r in roles}
    assert {
        "Managed HSM Contributor",
        "Key Vault Contributor",
        "Reader",
        "Owner",
        "Contributor",
        "User Access Administrator",
    } <= names


def test_checked_in_schemas_are_current():
    for name, schema in (("hsmsync.schema.json", manifest_schema()), ("state.schema.json", state_schema())):
        on_disk = json.loads((REPO / "schemas" / name).read_text())
        assert on_disk == schema, f"schemas/{name} is out of date: run `make schemas`"


def test_examples_validate_against_their_schemas():
    import jsonschema
    import yaml

    manifest = yaml.safe_load((REPO / "examples/contoso/hsmsync.yaml").read_text())
    jsonschema.validate(manifest, manifest_schema())
    for state in ("empty-state.json", "live-as-tutorial.json"):
        jsonschema.validate(json.loads((REPO / "examples/contoso" / state).read_text()), state_schema())


def test_unknown_hsm_in_state_file_is_a_clear_error(contoso: Path):
    (contoso / "state.json").write_text('{"version": 1, "hsms": {}}')
    result = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert result.exit_code == 1
    assert "HSM 'contoso' not in state file" in result.stderr


def test_validate_counts(contoso: Path):
    result = run_cli("validate", cwd=contoso)
    assert result.exit_code == 0
    assert "valid (7 principals, 1 HSMs, 9 assignments)" in result.stdout


def test_stale_saved_plan_is_refused_and_says_what_changed(contoso: Path):
    assert run_cli("plan", "--state", "state.json", "--out", "plan.json", cwd=contoso).exit_code == 0
    # Someone changes reality between plan and apply.
    data = json.loads((contoso / "state.json").read_text())
    data["hsms"]["contoso"]["role_assignments"].append(
        {
            "name": "99999999-9999-4999-8999-999999999999",
            "scope": "/",
            "role_definition_id": AUDITOR,
            "principal_id": VM,
        }
    )
    (contoso / "state.json").write_text(json.dumps(data))
    before = (contoso / "state.json").read_text()
    result = run_cli("apply", "plan.json", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 1
    assert "the saved plan is stale" in result.stderr
    assert (
        f"assignment 99999999-9999-4999-8999-999999999999 appeared ({AUDITOR} -> {VM} at /)" in result.stderr
    )
    assert (contoso / "state.json").read_text() == before


def test_lockout_guard_refuses_then_allow_lockout_overrides(contoso: Path):
    manifest = (contoso / "hsmsync.yaml").read_text()
    # Drop the security team's Administrator grant and let Azure's initial admin be pruned too.
    # Nobody keeps Administrator: the security team and the pipeline get read-only roles instead.
    manifest = manifest.replace(
        "{hsm: contoso, role: Managed HSM Administrator, scope: /}",
        "{hsm: contoso, role: Crypto Auditor, scope: /keys/app-signing}",
    )
    manifest = manifest.replace("    prune: true", "    prune: true\n    prune_initial_admins: true", 1)
    (contoso / "hsmsync.yaml").write_text(manifest)
    before = (contoso / "state.json").read_text()
    refused = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert refused.exit_code == 1
    assert "plan refused by the lockout guard" in refused.stderr
    assert "contoso: after this plan nobody could manage role assignments at '/'" in refused.stderr
    assert (contoso / "state.json").read_text() == before
    plan = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert plan.exit_code == 1 and "lockout guard" in plan.stderr
    forced = run_cli("apply", "--state", "state.json", "--auto-approve", "--allow-lockout", cwd=contoso)
    assert forced.exit_code == 0, forced.stderr
