"""A saved plan carrying a data-plane setting change (`hsms.<name>.data_settings`): `plan --out`
writes it, `show` and `apply PLAN` read it back, and a file whose setting change says something
the manifest does not (another value, another HSM) is refused by name, live state untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import REPO, run_cli

ARM_TRUST = "AllowKeyManagementOperationsThroughARM"


@pytest.fixture
def trusting(contoso: Path) -> Path:
    """Contoso whose manifest turns ARM trust on (a data-plane setting change against any state)."""
    manifest = contoso / "hsmsync.yaml"
    text = manifest.read_text()
    anchor = "    logging:\n      name: MHSM-Diagnostics"
    assert anchor in text
    manifest.write_text(text.replace(anchor, f"    data_settings:\n      {ARM_TRUST}: true\n{anchor}", 1))
    return contoso


def _saved(contoso: Path) -> dict[str, Any]:
    made = run_cli("plan", "--state", "state.json", "--out", "plan.json", cwd=contoso)
    assert made.exit_code == 0, made.stderr
    data: dict[str, Any] = json.loads((contoso / "plan.json").read_text())
    return data


def _setting_change(data: dict[str, Any]) -> dict[str, Any]:
    changes: list[dict[str, Any]] = [c for c in data["changes"] if c["kind"] == "data_setting"]
    (change,) = changes
    return change


def _arm_trust(contoso: Path) -> Any:
    hsm = json.loads((contoso / "state.json").read_text())["hsms"]["contoso"]
    return {s["name"]: s["value"] for s in hsm.get("data_settings") or ()}.get(ARM_TRUST)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_show_reads_a_saved_plan_with_a_data_setting_change(trusting: Path, fmt: str):
    _saved(trusting)
    shown = run_cli("show", "plan.json", "--format", fmt, cwd=trusting)
    assert shown.exit_code == 0, shown.stderr
    assert ARM_TRUST in shown.stdout


def test_apply_of_a_saved_plan_with_a_data_setting_change_applies_it(trusting: Path):
    _saved(trusting)
    applied = run_cli("apply", "plan.json", "--state", "state.json", "--auto-approve", cwd=trusting)
    assert applied.exit_code == 0, applied.stderr
    assert _arm_trust(trusting) == "true"
    again = run_cli("plan", "--state", "state.json", "--detailed-exitcode", cwd=trusting)
    assert again.exit_code == 0, again.stdout + again.stderr


def _refused(contoso: Path, data: dict[str, Any]) -> str:
    (contoso / "plan.json").write_text(json.dumps(data))
    before = (contoso / "state.json").read_text()
    result = run_cli("apply", "plan.json", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (contoso / "state.json").read_text() == before, "a refused plan changed live state"
    return result.stderr


def test_a_saved_setting_change_with_another_value_than_the_manifest_is_refused(trusting: Path):
    data = _saved(trusting)
    change = _setting_change(data)
    change["payload"]["value"] = "false"  # consistent with its words, but not what the manifest says
    change["field_changes"][0]["new"] = "false"
    stderr = _refused(trusting, data)
    assert f"change #{change['order']} in the plan file" in stderr
    assert "is not in the plan computed from hsmsync.yaml" in stderr


def test_a_saved_setting_change_naming_another_hsm_is_refused(trusting: Path):
    data = _saved(trusting)
    change = _setting_change(data)
    change["target"] = "fabrikam"
    change["id"] = f"data:fabrikam:data_setting:{ARM_TRUST}"
    stderr = _refused(trusting, data)
    assert "fabrikam" in stderr


def test_a_json_plan_with_a_data_setting_change_validates_against_the_published_schema(trusting: Path):
    shown = run_cli("plan", "--state", "state.json", "--format", "json", cwd=trusting)
    assert shown.exit_code == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert any(c["kind"] == "data_setting" for c in doc["changes"])
    published = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
    jsonschema.Draft202012Validator(published).validate(doc)


def _malformed(contoso: Path, data: dict[str, Any]) -> str:
    (contoso / "plan.json").write_text(json.dumps(data))
    shown = run_cli("show", "plan.json", cwd=contoso)
    assert shown.exit_code == 1, shown.stdout
    assert shown.stdout == "" and "Traceback" not in shown.stderr
    return shown.stderr


def test_show_refuses_a_setting_change_whose_words_differ_from_what_it_sets(trusting: Path):
    data = _saved(trusting)
    change = _setting_change(data)
    change["payload"]["value"] = "false"  # what apply would send; the file still reads false -> true
    stderr = _malformed(trusting, data)
    assert "plan.json" in stderr and change["id"] in stderr
    assert f"sets {ARM_TRUST} to 'false'" in stderr


def test_a_malformed_setting_payload_is_named_by_change_and_field_without_pydantic_noise(trusting: Path):
    data = _saved(trusting)
    change = _setting_change(data)
    change["payload"]["type"] = "string"
    stderr = _malformed(trusting, data)
    assert change["id"] in stderr and "type: Input should be 'boolean'" in stderr
    assert "errors.pydantic.dev" not in stderr and "validation error for" not in stderr
