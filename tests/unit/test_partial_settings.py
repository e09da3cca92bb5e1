"""Issue 9 item 6: a partial nested setting manages only the fields it gives, at every depth, and a
change that widens network exposure is flagged high-risk."""

from __future__ import annotations

from typing import Any

from hsmsync.core.compile import compile_manifest
from hsmsync.core.model import Manifest
from hsmsync.core.plan import Kind
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import HsmSettings, HsmState, LiveState, NetworkAcls
from hsmsync.core.state_edits import apply_to_state

from .builders import RID, URL

LOCKED_DOWN = HsmSettings(
    purge_protection=True,
    public_network_access="Disabled",
    network_acls=NetworkAcls(default_action="Deny", bypass="None", ip_rules=("10.0.0.0/24",)),
)


def _desired(settings: dict[str, Any]):
    doc = {"version": 1, "hsms": {"h1": {"url": URL, "resource_id": RID, "settings": settings}}}
    return compile_manifest(Manifest.model_validate(doc))


def _plan(settings: dict[str, Any], live_settings: HsmSettings = LOCKED_DOWN):
    live = LiveState(hsms={"h1": HsmState(url=URL, resource_id=RID, settings=live_settings)})
    return plan_changes(_desired(settings), live), live


def _fields(plan) -> dict[str, tuple[Any, Any]]:
    return {f.path: (f.old, f.new) for c in plan.changes if c.kind is Kind.SETTING for f in c.field_changes}


def test_ip_rules_alone_keep_the_live_default_action():
    plan, _ = _plan({"network_acls": {"ip_rules": ["10.0.0.0/24", "10.9.0.0/16"]}})
    assert _fields(plan) == {"network_acls.ip_rules": (["10.0.0.0/24"], ["10.0.0.0/24", "10.9.0.0/16"])}


def test_bypass_alone_keeps_the_live_ip_rules():
    plan, _ = _plan({"network_acls": {"bypass": "None"}})
    assert plan.is_empty
    plan, _ = _plan({"network_acls": {"bypass": "AzureServices"}})
    assert _fields(plan) == {"network_acls.bypass": ("None", "AzureServices")}


def test_an_empty_network_acls_manages_nothing():
    plan, _ = _plan({"network_acls": {}})
    assert plan.is_empty


def test_applying_a_partial_setting_keeps_the_siblings():
    plan, live = _plan({"network_acls": {"bypass": "AzureServices"}})
    (change,) = plan.changes
    after, _ = apply_to_state(live, change)
    acls = NetworkAcls(default_action="Deny", bypass="AzureServices", ip_rules=("10.0.0.0/24",))
    assert after.hsms["h1"].settings == LOCKED_DOWN.model_copy(update={"network_acls": acls})
    assert plan_changes(_desired({"network_acls": {"bypass": "AzureServices"}}), after).is_empty


def test_each_widening_of_network_exposure_is_high_risk():
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "public_network_access": ({"public_network_access": "Enabled"}, "opens public network access"),
        "default_action": ({"network_acls": {"default_action": "Allow"}}, "default to Allow"),
        "bypass": ({"network_acls": {"bypass": "AzureServices"}}, "bypass the network rules"),
        "ip_rules": ({"network_acls": {"ip_rules": ["10.0.0.0/24", "0.0.0.0/0"]}}, "allows 0.0.0.0/0"),
    }
    for name, (settings, flag) in cases.items():
        plan, _ = _plan(settings)
        (change,) = plan.changes
        assert any(flag in r for r in change.risks), (name, change.risks)


def test_narrowing_network_exposure_is_not_flagged_as_widening():
    open_settings = HsmSettings(network_acls=NetworkAcls(ip_rules=("10.0.0.0/24", "10.1.0.0/24")))
    plan, _ = _plan({"network_acls": {"default_action": "Deny", "ip_rules": ["10.0.0.0/24"]}}, open_settings)
    (change,) = plan.changes
    assert not any("widens" in r or "opens" in r for r in change.risks)
    # An unchanged Enabled does not make an unrelated change look like it opens access.
    plan, _ = _plan({"public_network_access": "Enabled", "purge_protection": True}, HsmSettings())
    (change,) = plan.changes
    assert change.risks == ()
