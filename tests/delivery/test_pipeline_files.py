"""The Action, the example workflows and the Azure Pipelines files pass a real linter (check-jsonschema's
built-in GitHub and Azure Pipelines schemas, shipped with the package: no network), and say what they
promise: OIDC permissions, applies that never overlap, only inputs the Action declares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

PIPELINES = REPO / "examples" / "pipelines"
WORKFLOWS = sorted((PIPELINES / "github").glob("*.yml"))
AZURE = sorted((PIPELINES / "azure-pipelines").glob("*.yml"))
OUR_ACTION = "your-org/hsmsync@"


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    # The Azure Pipelines schema uses patterns that only the non-unicode regex engine accepts.
    argv = [
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        schema,
        "--regex-variant",
        "nonunicode",
    ]
    return subprocess.run([*argv, *map(str, files)], capture_output=True, text=True, timeout=120)


def _load(path: Path) -> dict[str, Any]:
    # YAML 1.1 reads GitHub's `on:` as True; take it back as the key it is.
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def test_the_example_set_is_complete():
    names = {p.name for p in WORKFLOWS}
    assert {"hsmsync-plan.yml", "hsmsync-apply.yml", "hsmsync-drift.yml", "hsmsync-fleet.yml"} <= names
    assert {p.name for p in AZURE} == {"azure-pipelines.yml", "azure-pipelines-drift.yml"}
    assert (PIPELINES / "CODEOWNERS").is_file()


def test_action_and_workflows_and_azure_pipelines_pass_the_linter():
    for schema, files in (
        ("vendor.github-actions", [REPO / "action.yml"]),
        ("vendor.github-workflows", WORKFLOWS),
        ("vendor.azure-pipelines", AZURE),
    ):
        result = check_jsonschema(schema, *files)
        assert result.returncode == 0, f"{schema}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    ("schema", "text"),
    [
        (
            "vendor.github-actions",
            "name: x\ndescription: y\nruns:\n  using: composite\n  steps:\n    - run: echo\n",
        ),
        (
            "vendor.github-workflows",
            "on: push\npermissions:\n  id-token: admin\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n",
        ),
        (
            "vendor.azure-pipelines",
            "trigger: none\nstages:\n  - stage: A\n    jobs:\n      - job: x\n        stepz: [{script: echo}]\n",
        ),
    ],
    ids=["run step without shell", "unknown permission level", "misspelt steps"],
)
def test_the_linter_rejects_a_broken_file(tmp_path: Path, schema: str, text: str):
    broken = tmp_path / "broken.yml"
    broken.write_text(text)
    assert check_jsonschema(schema, broken).returncode == 1


def _our_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for job in workflow["jobs"].values()
        for s in job.get("steps", [])
        if str(s.get("uses", "")).startswith(OUR_ACTION)
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_use_only_declared_inputs_and_oidc_permissions(path: Path):
    inputs = set(yaml.safe_load((REPO / "action.yml").read_text())["inputs"])
    workflow = _load(path)
    steps = _our_steps(workflow)
    assert steps, "every example runs the Action"
    for step in steps:
        assert set(step["with"]) <= inputs, set(step["with"]) - inputs
        assert step["with"]["command"] in ("plan", "apply", "drift", "validate", "lint")
    permissions = workflow["permissions"]
    assert permissions["id-token"] == "write" and permissions["contents"] == "read"
    commands = {s["with"]["command"] for s in steps}
    if "plan" in commands:
        assert permissions["pull-requests"] == "write"
    if "drift" in commands:
        assert permissions["issues"] == "write"
    # hsmsync signs in by itself from the job's OIDC token (README, "Sign-in"): ids, no secret.
    assert workflow["env"] == {
        "AZURE_CLIENT_ID": "${{ vars.AZURE_CLIENT_ID }}",
        "AZURE_TENANT_ID": "${{ vars.AZURE_TENANT_ID }}",
    }
    assert "secrets." not in path.read_text()


def _concurrency_of_applies(workflow: dict[str, Any]) -> list[dict[str, Any] | None]:
    found: list[dict[str, Any] | None] = []
    for job in workflow["jobs"].values():
        if any(s["with"]["command"] == "apply" for s in _our_steps({"jobs": {"j": job}})):
            found.append(job.get("concurrency") or workflow.get("concurrency"))
    return found


def test_applies_never_overlap_and_apply_only_a_reviewed_plan():
    for path in WORKFLOWS:
        workflow = _load(path)
        for concurrency in _concurrency_of_applies(workflow):
            assert concurrency and concurrency["cancel-in-progress"] is False, path.name
        for step in _our_steps(workflow):
            if step["with"]["command"] == "apply":
                assert step["with"]["plan"].endswith("plan.json"), path.name


def test_fleet_runs_one_matrix_job_per_hsm():
    fleet = _load(PIPELINES / "github" / "hsmsync-fleet.yml")
    for job in fleet["jobs"].values():
        assert len(job["strategy"]["matrix"]["hsm"]) >= 2
        assert "${{ matrix.hsm }}" in job["concurrency"]["group"]
        (step,) = _our_steps({"jobs": {"j": job}})
        assert step["with"]["manifest"] == "hsm/${{ matrix.hsm }}.yaml"


def _hsmsync_steps(node: object) -> list[dict[str, Any]]:
    """Every script step that runs hsmsync (not the one installing it), anywhere in a pipeline."""
    if isinstance(node, list):
        return [step for item in node for step in _hsmsync_steps(item)]
    if not isinstance(node, dict):
        return []
    script = str(node.get("script", ""))
    if re.search(r"^\s*hsmsync (plan|apply|drift)", script, re.MULTILINE):
        return [node]
    return [step for value in node.values() for step in _hsmsync_steps(value)]


@pytest.mark.parametrize("path", AZURE, ids=lambda p: p.name)
def test_azure_pipelines_sign_in_through_the_workload_identity_service_connection(path: Path):
    steps = _hsmsync_steps(_load(path))
    assert steps
    for step in steps:
        assert step["env"] == {
            "SYSTEM_ACCESSTOKEN": "$(System.AccessToken)",
            "AZURE_SERVICE_CONNECTION_ID": "$(serviceConnectionId)",
            "AZURE_CLIENT_ID": "$(azureClientId)",
            "AZURE_TENANT_ID": "$(azureTenantId)",
        }


def test_azure_pipeline_applies_the_saved_plan_on_main_with_a_lock():
    pipeline = _load(PIPELINES / "azure-pipelines" / "azure-pipelines.yml")
    apply = next(s for s in pipeline["stages"] if s["stage"] == "Apply")
    assert apply["lockBehavior"] == "sequential"
    (deployment,) = apply["jobs"]
    assert deployment["environment"] == "hsm-production"
    assert "refs/heads/main" in apply["condition"] and "PullRequest" in apply["condition"]
    (step,) = _hsmsync_steps(apply)
    assert step["script"].endswith('"$(Pipeline.Workspace)/hsmsync-plan/plan.json" --auto-approve')


def test_codeowners_lines_are_pattern_and_owners():
    for line in (PIPELINES / "CODEOWNERS").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        assert owners and all(re.fullmatch(r"@[\w-]+/[\w-]+", o) for o in owners), line
        assert pattern == "*" or pattern.startswith("/"), line
