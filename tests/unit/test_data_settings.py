"""`hsms.<name>.data_settings`: planned per setting from the live value, refused for a name the
HSM does not list, flagged high-risk when it trusts ARM, read back from a saved plan, and counted
among the rights the applier must keep."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hsmsync.core.applier_rights import rights_to_keep
from hsmsync.core.compile import compile_manifest
from hsmsync.core.model import Manifest
from hsmsync.core.plan import Action, Kind, Plane
from hsmsync.core.plan_io import plan_from_dict
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import ARM_TRUST_SETTING, DataSetting, HsmState, LiveState
from hsmsync.core.state_edits import apply_to_state

from .builders import RID, URL


def _desired(data_settings: Any) -> Any:
    doc = {"version": 1, "hsms": {"h1": {"url": URL, "resource_id": RID, "data_settings": data_settings}}}
    return compile_manifest(Manifest.model_validate(doc))


def _live(*settings: DataSetting) -> LiveState:
    return LiveState(hsms={"h1": HsmState(url=URL, resource_id=RID, data_settings=settings or None)})


def test_a_new_hsm_is_planned_from_its_default_and_only_what_differs_changes() -> None:
    plan = plan_changes(_desired({ARM_TRUST_SETTING: True}), _live())
    (change,) = plan.changes
    assert (change.id, change.action, change.kind, change.plane) == (
        f"data:h1:data_setting:{ARM_TRUST_SETTING}",
        Action.UPDATE,
        Kind.DATA_SETTING,
        Plane.DATA,
    )
    assert [(f.path, f.old, f.new) for f in change.field_changes] == [(ARM_TRUST_SETTING, "false", "true")]
    assert change.risks and "trusts Azure Resource Manager" in change.risks[0]
    assert plan_changes(_desired({ARM_TRUST_SETTING: False}), _live()).is_empty


def test_the_service_spelling_of_a_value_is_compared_without_case() -> None:
    live = _live(DataSetting(name=ARM_TRUST_SETTING, value="True"))
    assert plan_changes(_desired({ARM_TRUST_SETTING: True}), live).is_empty
    (off,) = plan_changes(_desired({ARM_TRUST_SETTING: False}), live).changes
    assert off.risks == ()  # turning ARM trust off narrows who may manage keys


def test_a_setting_the_hsm_does_not_list_is_refused_with_the_names_it_lists() -> None:
    plan = plan_changes(_desired({"SomethingNew": True}), _live())
    assert plan.changes == ()
    assert plan.refusals == (
        f"h1: the HSM has no data-plane setting 'SomethingNew' (it lists: {ARM_TRUST_SETTING})",
    )


@pytest.mark.parametrize("value", ["true", 1, "yes", None])
def test_only_a_yaml_boolean_is_a_setting_value(value: object) -> None:
    with pytest.raises(ValidationError):
        _desired({ARM_TRUST_SETTING: value})


@pytest.mark.parametrize("name", ["", "has space", "dot.ted", "Ünïcode", "a" * 129])
def test_a_setting_name_is_the_service_spelling(name: str) -> None:
    with pytest.raises(ValidationError):
        _desired({name: True})


def test_a_saved_plan_reads_the_change_back_and_the_state_edit_is_idempotent() -> None:
    live = _live()
    plan = plan_changes(_desired({ARM_TRUST_SETTING: True}), live)
    assert plan_from_dict(plan.to_dict()).changes == plan.changes
    (change,) = plan.changes
    after, outcome = apply_to_state(live, change)
    assert outcome.value == "done"
    assert after.hsms["h1"].listed_data_settings == (DataSetting(name=ARM_TRUST_SETTING, value="true"),)
    assert apply_to_state(after, change)[1].value == "already_done"
    assert plan_changes(_desired({ARM_TRUST_SETTING: True}), after).is_empty


def test_a_tampered_saved_change_without_its_setting_is_refused() -> None:
    data = plan_changes(_desired({ARM_TRUST_SETTING: True}), _live()).to_dict()
    del data["changes"][0]["payload"]
    with pytest.raises(Exception, match="needs its setting"):
        plan_from_dict(data)


def test_managing_data_settings_needs_the_settings_rights() -> None:
    rights = {(r.short, r.scope) for r in rights_to_keep(_desired({ARM_TRUST_SETTING: False}))}
    assert {("settings/read/action", "/"), ("settings/write/action", "/")} <= rights
    unmanaged = {r.short for r in rights_to_keep(_desired(None))}
    assert not any(a.startswith("settings/") for a in unmanaged)
