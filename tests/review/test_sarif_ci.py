"""SARIF for GitHub code scanning (issue 12): stable fingerprints, rule metadata, repository-relative
URIs, validation errors as results; `lint --soft-fail`; workflow-command annotations."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hsmsync.cli.ci import workflow_annotations
from tests.conftest import run_cli

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "sarif-schema-2.1.0.json").read_text()
)
P = {"alice": "aaaaaaaa-0000-4000-8000-000000000001", "app": "bbbbbbbb-0000-4000-8000-000000000002"}
HSM = (
    "hsms:\n  h1:\n    url: https://h1.managedhsm.azure.net\n"
    "    resource_id: /subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg/providers/"
    "Microsoft.KeyVault/managedHSMs/h1\n"
)
PRINCIPALS = (
    "principals:\n"
    f"  alice: {{type: User, id: {P['alice']}}}\n"
    f"  app: {{type: ServicePrincipal, id: {P['app']}}}\n"
)
TEAMS = (
    "teams:\n"
    "  ops:\n    members: [alice]\n    data:\n"
    "      - {role: Managed HSM Administrator, hsm: h1, scope: /}\n"
    "      - {role: Managed HSM Crypto User, hsm: h1, scope: /keys/k}\n"
    "  app:\n    members: [app]\n    data:\n      - {role: Managed HSM Crypto User, hsm: h1, scope: /}\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "hsmsync.yaml").write_text("version: 1\n" + PRINCIPALS + HSM + TEAMS)
    return tmp_path


def _sarif(repo: Path, *extra: str) -> tuple[dict[str, Any], int]:
    result = run_cli("lint", "-f", "deploy/hsmsync.yaml", "--format", "sarif", *extra, cwd=repo)
    log = json.loads(result.stdout)
    jsonschema.validate(log, SCHEMA)
    return log, result.exit_code


def test_sarif_is_valid_with_rule_metadata_and_repository_relative_uris(repo: Path):
    log, code = _sarif(repo)
    assert code == 1  # HSM001 is an error
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == repo.resolve().as_uri() + "/"
    for result in run["results"]:
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert location == {"uri": "deploy/hsmsync.yaml", "uriBaseId": "SRCROOT"}
        assert len(result["partialFingerprints"]["hsmsync/v1"]) == 32
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["helpUri"].startswith("https://")
        assert float(rule["properties"]["security-severity"]) > 0 and "security" in rule["properties"]["tags"]


def test_fingerprints_are_stable_across_runs_and_reordering(repo: Path):
    first, _ = _sarif(repo)
    again, _ = _sarif(repo)
    assert first == again
    (repo / "deploy" / "hsmsync.yaml").write_text("version: 1\n" + TEAMS + HSM + PRINCIPALS)
    moved, _ = _sarif(repo)

    def prints(log: dict[str, Any]) -> dict[str, int]:
        return {
            r["partialFingerprints"]["hsmsync/v1"]: r["locations"][0]["physicalLocation"]["region"][
                "startLine"
            ]
            for r in log["runs"][0]["results"]
        }

    assert prints(first).keys() == prints(moved).keys() and prints(first) != prints(moved)  # lines moved


def test_sarif_root_option_and_soft_fail(repo: Path):
    log, code = _sarif(repo, "--sarif-root", "deploy", "--soft-fail")
    assert code == 0
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "hsmsync.yaml"


def test_an_invalid_manifest_is_reported_as_sarif_results(repo: Path):
    (repo / "deploy" / "hsmsync.yaml").write_text("version: 1\n" + PRINCIPALS + HSM + "bogus: 1\n")
    log, code = _sarif(repo)
    assert code == 1
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "HSM-INVALID" and result["level"] == "error"
    assert "bogus" in result["message"]["text"], result
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "deploy/hsmsync.yaml"
    assert location["region"]["startLine"] == 9


def test_github_actions_annotations_on_stderr(repo: Path):
    result = run_cli("lint", "-f", "deploy/hsmsync.yaml", cwd=repo, environ={"GITHUB_ACTIONS": "true"})
    assert "::error file=deploy/hsmsync.yaml,line=" in result.stderr and "::HSM001" not in result.stderr
    assert "::warning file=deploy/hsmsync.yaml," in result.stderr
    assert "::" not in run_cli("lint", "-f", "deploy/hsmsync.yaml", cwd=repo).stderr
    (repo / "deploy" / "hsmsync.yaml").write_text("version: 1\n" + PRINCIPALS + HSM + "bogus: 1\n")
    invalid = run_cli("lint", "-f", "deploy/hsmsync.yaml", cwd=repo, environ={"GITHUB_ACTIONS": "true"})
    assert invalid.exit_code == 1 and "::error file=deploy/hsmsync.yaml,line=9::" in invalid.stderr


def test_annotation_escaping_follows_the_workflow_command_rules():
    out = workflow_annotations([("error", "a,b:c%.yaml", 3, "50%\r\nforged ::error::x")])
    assert out == "::error file=a%2Cb%3Ac%25.yaml,line=3::50%25%0D%0Aforged ::error::x\n"
    assert out.count("\n") == 1


def test_every_command_annotates_manifest_errors_in_github_actions(repo: Path):
    (repo / "deploy" / "hsmsync.yaml").write_text("version: 1\n" + PRINCIPALS + HSM + "bogus: 1\n")
    gha = {"GITHUB_ACTIONS": "true"}
    for args in (("validate",), ("plan", "--state", "none.json"), ("validate", "--format", "json")):
        result = run_cli(*args, "-f", "deploy/hsmsync.yaml", cwd=repo, environ=gha)
        assert result.exit_code == 1
        assert result.stderr.count("::error file=deploy/hsmsync.yaml,line=9::") == 1, (args, result.stderr)
    missing = run_cli("validate", "-f", "nope.yaml", cwd=repo, environ=gha)
    assert "::error::nope.yaml: manifest not found" in missing.stderr  # no file to point at
    assert "::" not in run_cli("validate", "-f", "deploy/hsmsync.yaml", cwd=repo).stderr
