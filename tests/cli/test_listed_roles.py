"""Issue 14 §4: a built-in role the HSM lists but hsmsync's shipped catalog lacks is used as the
HSM lists it (with a warning; --strict refuses it); one that nobody lists is an error naming the
manifest's line; a near-miss of a known role stays a typo."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from hsmsync.core.catalog import builtin_data_roles
from tests.conftest import run_cli

NEW_ROLE = "5c8e2a4b-6d1f-4e3a-9b7c-2f4d6e8a0c13"
NEW_NAME = "Managed HSM Quantum Officer"


def _team_uses(contoso: Path, role: str) -> None:
    path = contoso / "hsmsync.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["teams"]["auditors"].setdefault("data", []).append({"hsm": "contoso", "role": role, "scope": "/keys"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _hsm_lists_the_new_role(contoso: Path) -> None:
    path = contoso / "state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    listed = [r.model_dump(mode="json") for r in builtin_data_roles()]
    listed.append(
        {
            "name": NEW_ROLE,
            "role_name": NEW_NAME,
            "role_type": "AKVBuiltInRole",
            "permissions": [{"data_actions": ["Microsoft.KeyVault/managedHsm/keys/read/action"]}],
        }
    )
    state["hsms"]["contoso"]["builtin_role_definitions"] = listed
    path.write_text(json.dumps(state), encoding="utf-8")


def test_a_role_only_the_hsm_lists_is_used_as_listed(contoso: Path) -> None:
    _team_uses(contoso, NEW_NAME)
    _hsm_lists_the_new_role(contoso)
    checked = run_cli("validate", cwd=contoso)
    assert (
        checked.exit_code == 0 and "HSM 'contoso' lists it (planning checks that it does)" in checked.stderr
    )
    plan = run_cli("plan", "--state", "state.json", "--format", "json", cwd=contoso)
    assert plan.exit_code == 0, plan.stderr
    doc = json.loads(plan.stdout)
    (change,) = [c for c in doc["changes"] if c["role"] == NEW_NAME]
    assert (change["role_id"], change["scope"], change["principal"]) == (NEW_ROLE, "/keys", "auditors")
    assert any(f"role '{NEW_NAME}' is not in hsmsync's catalog" in w for w in doc["warnings"])
    applied = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert applied.exit_code == 0, applied.stderr
    again = run_cli("plan", "--state", "state.json", "--detailed-exitcode", cwd=contoso)
    assert again.exit_code == 0, again.stdout + again.stderr


def test_a_role_nobody_lists_is_an_error_naming_the_line(contoso: Path) -> None:
    _team_uses(contoso, NEW_NAME)
    plan = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert plan.exit_code == 1, plan.stdout
    assert "hsmsync.yaml:" in plan.stderr and "teams.auditors.data[" in plan.stderr
    assert f"unknown role '{NEW_NAME}': neither hsmsync's catalog nor HSM 'contoso' lists it" in plan.stderr
    assert "Traceback" not in plan.stderr


def test_strict_refuses_a_role_the_catalog_lacks(contoso: Path) -> None:
    _team_uses(contoso, NEW_NAME)
    _hsm_lists_the_new_role(contoso)
    strict = run_cli("plan", "--state", "state.json", "--strict", cwd=contoso)
    assert strict.exit_code == 1 and "--strict" in strict.stderr and NEW_NAME in strict.stderr


def test_a_near_miss_of_a_known_role_is_a_typo_at_once(contoso: Path) -> None:
    _team_uses(contoso, "Crypto Usr")
    checked = run_cli("validate", cwd=contoso)
    assert checked.exit_code == 1 and "unknown role 'Crypto Usr'; did you mean" in checked.stderr
