"""The CLI's live path end to end: the real Azure SDK clients against the local emulator."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hsmsync_emulator import Emulator, parse_faults, start_emulator
from tests.conftest import CONTOSO, run_cli
from tests.signin import sign_in_as

AUDITORS = "3b7d9e1f-5c2a-4f88-b6d0-1e4a7c9b2f33"
SUBSCRIPTION_ADMIN = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88"
APP_VM = "8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44"
MINIMAL = """\
version: 1
principals:
  app-vm: {type: ServicePrincipal, id: 8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44}
hsms:
  contoso:
    url: https://contosomhsm.managedhsm.azure.net
    resource_id: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG/providers/Microsoft.KeyVault/managedHSMs/ContosoMHSM
teams:
  app:
    members: [app-vm]
    data: [{hsm: contoso, role: Crypto User, scope: /keys/app-signing}]
"""


def _start(tmp_path: Path, state: str, faults: str | None = None) -> Emulator:
    shutil.copy(CONTOSO / state, tmp_path / "emulated.json")
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    emulator = start_emulator(tmp_path / "emulated.json", faults=parse_faults(faults) if faults else None)
    emulator.write_endpoints(tmp_path / "endpoints.json")
    sign_in_as(emulator)
    return emulator


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Path]:
    with _start(tmp_path, "empty-state.json"):
        yield tmp_path


def _live(*args: str) -> tuple[str, ...]:
    return (*args, "--live", "--endpoints", "endpoints.json")


def test_plan_apply_replan_on_both_planes(emulated: Path):
    plan = run_cli(*_live("plan", "--detailed-exitcode"), cwd=emulated)
    assert plan.exit_code == 2, plan.stderr
    assert "full discovery" in plan.stdout
    applied = run_cli(*_live("apply", "--auto-approve"), cwd=emulated)
    assert applied.exit_code == 0, applied.stderr
    # The same count as the fake backend: RBAC on both planes, HSM settings, audit logging, three
    # access policies on the vault, and the custom Azure role.
    assert "Apply complete: 14 applied" in applied.stdout
    again = run_cli(*_live("plan", "--detailed-exitcode"), cwd=emulated)
    assert again.exit_code == 0, again.stdout + again.stderr
    state = json.loads((emulated / "emulated.json").read_text())
    hsm = state["hsms"]["contoso"]
    assert {a["scope"] for a in hsm["role_assignments"]} == {"/", "/keys", "/keys/app-signing"}
    assert [r["role_name"] for r in hsm["role_definitions"]] == ["Contoso Key Rotator"]
    assert [a["principal_type"] for a in state["arm"]["role_assignments"]] == ["Group", "Group"]
    assert hsm["settings"]["purge_protection"] is True
    assert hsm["settings"]["public_network_access"] == "Disabled"
    assert [(d["name"], d["categories"]) for d in hsm["diagnostic_settings"]] == [
        ("MHSM-Diagnostics", ["AuditEvent"])
    ]
    assert len(state["vaults"]["contoso-kv"]["access_policies"]) == 3
    assert [r["role_name"] for r in state["arm"]["role_definitions"]] == ["Contoso App Devops"]


def _act_as(emulator: Emulator, directory: Path, oid: str, groups: list[str]) -> None:
    """Sign in as a user in `groups` (`az login`, the way a person runs hsmsync)."""
    sign_in_as(emulator, oid, groups, bin_dir=directory / "bin")


def test_pruning_without_key_read_is_refused_clearly(tmp_path: Path):
    with _start(tmp_path, "live-as-tutorial.json"):
        # The tutorial's HSM was created by the subscription admin: Administrator cannot list keys,
        # so per-key assignments cannot be found, and a pruning plan would be incomplete.
        result = run_cli(*_live("plan"), cwd=tmp_path)
        assert result.exit_code == 1
        assert "it needs 'Microsoft.KeyVault/managedHsm/keys/read/action'" in result.stderr


def test_tutorial_state_is_corrected_and_drift_clears(tmp_path: Path):
    with _start(tmp_path, "live-as-tutorial.json") as emulator:
        # The subscription admin (initial administrator), as a member of the auditors group,
        # can both read keys and manage role assignments.
        _act_as(emulator, tmp_path, SUBSCRIPTION_ADMIN, [AUDITORS])
        drift = run_cli(*_live("drift", "--format", "json"), cwd=tmp_path)
        assert drift.exit_code == 2, drift.stderr
        assert run_cli(*_live("apply", "--auto-approve"), cwd=tmp_path).exit_code == 0
        assert run_cli(*_live("drift"), cwd=tmp_path).exit_code == 0


def test_apply_converges_under_injected_429_and_500(tmp_path: Path):
    with _start(tmp_path, "empty-state.json", faults="429=0.2,500=0.1,seed=3"):
        applied = run_cli(
            *_live("apply", "--auto-approve"), cwd=tmp_path, environ={"HSMSYNC_RETRY_BACKOFF": "0.01"}
        )
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        again = run_cli(*_live("plan", "--detailed-exitcode"), cwd=tmp_path)
        assert again.exit_code == 0, again.stdout


def test_caller_without_role_assignment_write_gets_a_clear_permission_error(tmp_path: Path):
    with _start(tmp_path, "live-as-tutorial.json") as emulator:
        (tmp_path / "hsmsync.yaml").write_text(MINIMAL)
        _act_as(
            emulator, tmp_path, "11111111-2222-4333-8444-555555555555", [AUDITORS]
        )  # Crypto Auditor: reads only
        assert run_cli(*_live("plan"), cwd=tmp_path).exit_code == 0
        result = run_cli(*_live("apply", "--auto-approve"), cwd=tmp_path)
        assert result.exit_code == 1
        assert "[FAILED] create role_assignment contoso /keys/app-signing" in result.stdout
        assert "it needs 'Microsoft.KeyVault/managedHsm/roleAssignments/write/action'" in result.stdout
        assert "Traceback" not in result.stdout + result.stderr


def test_whocan_and_lint_read_live_state_through_the_emulator(tmp_path: Path):
    with _start(tmp_path, "live-as-tutorial.json") as emulator:
        _act_as(emulator, tmp_path, SUBSCRIPTION_ADMIN, [AUDITORS])
        who = run_cli(*_live("whocan", "--hsm", "contoso", "--key", "app-signing", "sign"), cwd=tmp_path)
        assert who.exit_code == 0, who.stderr
        live_part = who.stdout.split("In live state (what is):")[1]
        # The tutorial's commands gave the VM identity Crypto Auditor: nobody can sign in reality.
        assert "app-vm" not in live_part
        assert "app-vm" in who.stdout.split("In live state (what is):")[0]
        # a key the HSM does not have is an error naming the close match (issue 9, item 12)
        typo = run_cli(*_live("whocan", "--hsm", "contoso", "--key", "app-signnig", "sign"), cwd=tmp_path)
        assert typo.exit_code == 1 and "did you mean 'app-signing'" in typo.stderr, typo.stderr
        linted = run_cli(*_live("lint"), cwd=tmp_path)
        assert linted.exit_code == 0, linted.stderr


HSMS_ONLY = """\
version: 1
hsms:
  contoso:
    url: https://contosomhsm.managedhsm.azure.net
    resource_id: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG/providers/Microsoft.KeyVault/managedHSMs/ContosoMHSM
vaults:
  contoso-kv:
    url: https://contosokeyvault.vault.azure.net
    resource_id: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG/providers/Microsoft.KeyVault/vaults/ContosoKeyVault
"""


def test_export_live_round_trip_through_the_emulator(tmp_path: Path):
    with _start(tmp_path, "live-as-tutorial.json") as emulator:
        _act_as(emulator, tmp_path, SUBSCRIPTION_ADMIN, [AUDITORS])
        (tmp_path / "hsms.yaml").write_text(HSMS_ONLY)
        exported = run_cli(*_live("export", "-f", "hsms.yaml", "-o", "exported.yaml"), cwd=tmp_path)
        assert exported.exit_code == 0, exported.stderr
        text = (tmp_path / "exported.yaml").read_text()
        assert "Managed HSM Crypto Auditor" in text and "contoso-kv" in text
        plan = run_cli(*_live("plan", "-f", "exported.yaml", "--detailed-exitcode"), cwd=tmp_path)
        assert plan.exit_code == 0, plan.stdout + plan.stderr
        assert "No changes." in plan.stdout


def test_log_format_json_gives_one_json_object_per_stderr_line(emulated: Path):
    """`--log-format json` for log shippers: API calls (with the service's request id) and progress
    lines, each a JSON object; no token."""
    result = run_cli(
        "--log-format", "json", *_live("apply", "--auto-approve", "-v"), cwd=emulated, environ={"CI": "true"}
    )
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line parses
    calls = [r for r in records if r["logger"] == "hsmsync.api"]
    assert calls and all({"time", "level", "method", "url", "status", "ms"} <= r.keys() for r in calls)
    assert any(r["status"] == 200 and len(r.get("request_id", "")) == 36 for r in calls)
    progress = [r for r in records if r["logger"] == "hsmsync.progress"]
    assert {r["phase"] for r in progress} == {"discovery", "apply"}
    assert "eyJ" not in result.stderr and "Bearer" not in result.stderr


def test_log_format_json_errors_are_json_too(tmp_path: Path):
    result = run_cli(
        "--log-format", "json", "plan", "--state", "missing.json", "-f", "nope.yaml", cwd=tmp_path
    )
    assert result.exit_code == 1
    (record,) = [json.loads(line) for line in result.stderr.splitlines()]
    assert record["level"] == "error" and record["message"].startswith("nope.yaml: manifest not found")
