"""An HSM's data-plane settings (`hsms.<name>.data_settings`): plan, apply and re-plan with no
changes through the CLI's live path, the real KeyVaultSettingsClient and the emulator, and the
same on the state-file path."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from hsmsync.core.state import ARM_TRUST_SETTING, HsmState
from tests.conftest import CONTOSO, run_cli

from .test_live_resources import Live, _hsm, live

__all__ = ["live"]  # the fixture, shared with the other resource tests


def _arm_trust(live: Live) -> list[tuple[str, str]]:
    hsm = HsmState.model_validate(live.state()["hsms"]["contoso"])
    return [(s.name, s.value) for s in hsm.listed_data_settings]


def test_trusting_arm_is_planned_high_risk_applied_and_turned_off_again(live: Live) -> None:
    live.manifest(hsms={"contoso": {**_hsm(), "data_settings": {ARM_TRUST_SETTING: True}}})
    plan = live.plan()
    assert plan.exit_code == 2, plan.stdout + plan.stderr
    assert f"~ data-plane setting {ARM_TRUST_SETTING}" in plan.stdout
    assert "false -> true" in plan.stdout
    assert "risk: trusts Azure Resource Manager" in plan.stdout
    live.apply(1)
    assert _arm_trust(live) == [(ARM_TRUST_SETTING, "true")]
    live.manifest(hsms={"contoso": {**_hsm(), "data_settings": {ARM_TRUST_SETTING: False}}})
    off = live.plan()
    assert off.exit_code == 2 and "true -> false" in off.stdout
    assert "risk: trusts" not in off.stdout  # turning trust off narrows who may manage keys
    live.apply(1)
    assert _arm_trust(live) == [(ARM_TRUST_SETTING, "false")]


def test_a_setting_the_hsm_does_not_list_is_refused_at_plan_time(live: Live) -> None:
    live.manifest(hsms={"contoso": {**_hsm(), "data_settings": {"AllowEverything": True}}})
    plan = live.plan()
    assert plan.exit_code == 1
    out = plan.stdout + plan.stderr
    assert "has no data-plane setting 'AllowEverything'" in out and ARM_TRUST_SETTING in out
    assert live.run("apply", "--auto-approve").exit_code == 1
    assert _arm_trust(live) == [(ARM_TRUST_SETTING, "false")]


def test_state_file_path_plans_and_applies_the_same(tmp_path: Path) -> None:
    manifest = yaml.safe_load((CONTOSO / "hsmsync.yaml").read_text(encoding="utf-8"))
    [name] = manifest["hsms"]
    manifest["hsms"][name]["data_settings"] = {ARM_TRUST_SETTING: True}
    (tmp_path / "hsmsync.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    state = tmp_path / "state.json"
    state.write_text((CONTOSO / "empty-state.json").read_text(encoding="utf-8"), encoding="utf-8")
    applied = run_cli("apply", "--state", str(state), "--auto-approve", cwd=tmp_path)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    settings = json.loads(state.read_text(encoding="utf-8"))["hsms"][name]["data_settings"]
    assert settings == [{"name": ARM_TRUST_SETTING, "value": "true", "type": "boolean"}]
    again = run_cli("plan", "--state", str(state), "--detailed-exitcode", cwd=tmp_path)
    assert again.exit_code == 0, again.stdout


def test_a_value_that_is_not_a_boolean_names_file_line_and_field(tmp_path: Path) -> None:
    manifest = yaml.safe_load((CONTOSO / "hsmsync.yaml").read_text(encoding="utf-8"))
    [name] = manifest["hsms"]
    manifest["hsms"][name]["data_settings"] = {ARM_TRUST_SETTING: "yes"}
    (tmp_path / "hsmsync.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 1
    assert "hsmsync.yaml:" in result.stderr + result.stdout
    assert f"data_settings.{ARM_TRUST_SETTING}" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
