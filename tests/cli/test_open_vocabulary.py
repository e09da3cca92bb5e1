"""Issue 14 §4: data actions the catalog does not know yet but that follow the service's pattern
(`Microsoft.KeyVault/managedHsm/<segments>/read|write|delete|action`) are accepted with a warning
and refused under --strict; a near-miss of a known action is still a typo with a suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import run_cli

NEW = ["Microsoft.KeyVault/managedHsm/ekm/proxies/read", "ekm/proxies/write", "keys/attest/action"]


def _with_role(contoso: Path, actions: list[str]) -> None:
    path = contoso / "hsmsync.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["roles"]["ekm-admin"] = {
        "hsm": "contoso",
        "name": "Contoso EKM Administrator",
        "data_actions": actions,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def test_new_actions_that_follow_the_pattern_are_planned_and_applied_with_a_warning(contoso: Path) -> None:
    _with_role(contoso, NEW)
    plan = run_cli("plan", "--state", "state.json", "--format", "json", cwd=contoso)
    assert plan.exit_code == 0, plan.stderr
    doc = json.loads(plan.stdout)
    warned = [w for w in doc["warnings"] if "is not in hsmsync's catalog" in w]
    assert [w.split(": ", 1)[0] for w in warned] == [f"roles.ekm-admin.data_actions.{i}" for i in range(3)]
    (role,) = [c for c in doc["changes"] if c["role"] == "Contoso EKM Administrator"]
    assert role["definition"]["permissions"][0]["data_actions"] == [
        "Microsoft.KeyVault/managedHsm/ekm/proxies/read",
        "Microsoft.KeyVault/managedHsm/ekm/proxies/write",
        "Microsoft.KeyVault/managedHsm/keys/attest/action",
    ]
    applied = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert applied.exit_code == 0, applied.stderr
    again = run_cli("plan", "--state", "state.json", "--detailed-exitcode", cwd=contoso)
    assert again.exit_code == 0, again.stdout + again.stderr


def test_strict_refuses_an_action_the_catalog_does_not_know(contoso: Path) -> None:
    _with_role(contoso, NEW)
    strict = run_cli("plan", "--state", "state.json", "--strict", cwd=contoso)
    assert strict.exit_code == 1, strict.stdout
    assert "--strict: the manifest uses what hsmsync does not know" in strict.stderr
    assert (
        "Microsoft.KeyVault/managedHsm/ekm/proxies/read" in strict.stderr and "Traceback" not in strict.stderr
    )


def test_a_near_miss_of_a_known_action_is_still_an_error_with_a_suggestion(contoso: Path) -> None:
    _with_role(contoso, ["keys/sing/action"])
    plan = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert plan.exit_code == 1
    assert (
        "unknown data action 'keys/sing/action'; did you mean 'Microsoft.KeyVault/managedHsm/keys/sign/action'"
        in (plan.stderr)
    )
    assert "hsmsync.yaml:" in plan.stderr


def test_a_known_action_without_its_action_suffix_is_an_error_not_a_new_action(contoso: Path) -> None:
    _with_role(contoso, ["ekm/read"])  # the catalog's EKM Administrator has ekm/read/action
    plan = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert (
        plan.exit_code == 1 and "did you mean 'Microsoft.KeyVault/managedHsm/ekm/read/action'" in plan.stderr
    )


def test_an_action_outside_the_pattern_is_an_error(contoso: Path) -> None:
    _with_role(contoso, ["ekm/manage"])  # no verb the service uses
    plan = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert plan.exit_code == 1 and "unknown data action 'ekm/manage'" in plan.stderr
