"""`hsmsync drift` for a nightly job: exit 0 in sync, 2 drifted, 1 error; JSON and markdown reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli


def _converge(contoso: Path) -> None:
    assert run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso).exit_code == 0


def test_in_sync_exits_0(contoso: Path):
    _converge(contoso)
    result = run_cli("drift", "--state", "state.json", cwd=contoso)
    assert result.exit_code == 0
    assert "in sync" in result.stdout


def test_drifted_exits_2_with_a_json_report(contoso: Path):
    result = run_cli(
        "drift", "--state", "live-as-tutorial.json", "--format", "json", "--report", "r.json", cwd=contoso
    )
    assert result.exit_code == 2
    report = json.loads((contoso / "r.json").read_text())
    assert report == json.loads(result.stdout)
    assert report["in_sync"] is False and report["failed"] is True
    assert {(d["action"], d["principal"]) for d in report["drifted"]} >= {
        ("create", "app-vm"),
        ("delete", "app-vm"),
    }
    assert report["unmanaged"][0]["reason"].startswith("initial administrator")


def test_error_exits_1(contoso: Path):
    result = run_cli("drift", "--state", "missing.json", cwd=contoso)
    assert result.exit_code == 1
    assert "state file not found" in result.stderr


@pytest.mark.parametrize(("fail_on", "expected"), [("drift", 0), ("unmanaged", 2), ("any", 2)])
def test_fail_on_policy_for_unmanaged_assignments(contoso: Path, fail_on: str, expected: int):
    manifest = contoso / "hsmsync.yaml"
    manifest.write_text(manifest.read_text().replace("    prune: true", "    prune: false"))
    _converge(contoso)
    # In sync, but someone added an assignment the manifest does not declare (prune is off).
    data = json.loads((contoso / "state.json").read_text())
    data["hsms"]["contoso"]["role_assignments"].append(
        {
            "name": "99999999-9999-4999-8999-999999999999",
            "scope": "/",
            "principal_id": "99999999-9999-4999-8999-999999999999",
            "role_definition_id": "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3",
        }
    )
    (contoso / "state.json").write_text(json.dumps(data))
    result = run_cli("drift", "--state", "state.json", "--fail-on", fail_on, cwd=contoso)
    assert result.exit_code == expected


def test_markdown_summary(contoso: Path):
    result = run_cli("drift", "--state", "live-as-tutorial.json", "--format", "markdown", cwd=contoso)
    assert result.stdout.startswith("### :x: hsmsync drift: 10 drifted, 1 unmanaged")
    assert "- contoso: Managed HSM Crypto Auditor -> app-vm at /" in result.stdout


def test_a_plan_the_service_would_refuse_is_an_error_not_drift(contoso: Path):
    # Azure never changes the retention once set: drift must say "cannot be applied" (1), not 2.
    manifest = contoso / "hsmsync.yaml"
    manifest.write_text(
        manifest.read_text().replace("soft_delete_retention_days: 90", "soft_delete_retention_days: 30")
    )
    result = run_cli("drift", "--state", "state.json", "--report", "r.json", cwd=contoso)
    assert result.exit_code == 1
    assert "the service would refuse this plan" in result.stderr
    assert "retention" in result.stderr
    assert json.loads((contoso / "r.json").read_text())["failed"] is True  # the report is still written


def test_a_plan_the_lockout_guard_refuses_is_an_error_not_drift(contoso: Path):
    manifest = contoso / "hsmsync.yaml"
    text = manifest.read_text().replace(
        "{hsm: contoso, role: Managed HSM Administrator, scope: /}",
        "{hsm: contoso, role: Crypto Auditor, scope: /keys/app-signing}",
    )
    manifest.write_text(text.replace("    prune: true", "    prune: true\n    prune_initial_admins: true", 1))
    result = run_cli("drift", "--state", "state.json", cwd=contoso)
    assert result.exit_code == 1
    assert "plan refused by the lockout guard" in result.stderr
    assert "drift" in result.stdout.lower()  # the report comes first
    forced = run_cli("drift", "--state", "state.json", "--allow-lockout", cwd=contoso)
    assert forced.exit_code == 2, forced.stderr


def _documented_drift_exit_codes() -> dict[str, int]:
    """The README's words for drift's exit codes: "exit 0 in sync, 2 drifted, 1 error"."""
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8").split())
    found = re.search(r"`hsmsync drift` is for a cron: exit (\d) in sync, (\d) drifted, (\d) error", readme)
    assert found, "the README no longer states drift's exit codes where this test reads them"
    return {"in sync": int(found[1]), "drifted": int(found[2]), "error": int(found[3])}


@pytest.mark.parametrize("path", ["in sync", "drifted", "unreadable live", "bad input", "refused"])
def test_every_drift_path_exits_as_the_readme_says(contoso: Path, path: str) -> None:
    documented = _documented_drift_exit_codes()
    state = "state.json"
    if path == "in sync":
        _converge(contoso)
    elif path == "drifted":
        state = "live-as-tutorial.json"
    elif path == "unreadable live":
        (contoso / "state.json").write_text("{not json")
    elif path == "bad input":
        manifest = contoso / "hsmsync.yaml"
        manifest.write_text(manifest.read_text().replace("    prune: true", "    prune: maybe", 1))
    else:  # a plan the service would refuse: "a refused plan" is an error in the exit-code table
        manifest = contoso / "hsmsync.yaml"
        text = manifest.read_text()
        manifest.write_text(text.replace("soft_delete_retention_days: 90", "soft_delete_retention_days: 30"))
    result = run_cli("drift", "--state", state, cwd=contoso)
    expected = documented[path] if path in documented else documented["error"]
    assert result.exit_code == expected, (path, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
