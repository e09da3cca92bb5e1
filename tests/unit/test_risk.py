"""Risk flags that reviewers see on plan changes."""

from __future__ import annotations

from hsmsync.core.plan import Action
from hsmsync.core.planner import plan_changes

from .builders import ALICE, AUDITOR, RG, assignment, live, manifest


def _risks(teams, state=None, roles=None):
    plan = plan_changes(manifest(teams=teams, roles=roles), state or live())
    return {(c.action, c.role, c.scope): c.risks for c in plan.changes}


def test_crypto_user_at_hsm_scope_is_flagged_hsm_wide_key_use():
    risks = _risks({"a": {"members": ["bob"], "data": [{"hsm": "h1", "role": "Crypto User"}]}})
    flags = risks[(Action.CREATE, "Managed HSM Crypto User", "/")]
    assert "HSM-wide key use" in flags
    assert "can release keys" in flags  # Crypto User holds release, not export


def test_crypto_user_on_one_key_is_not_hsm_wide():
    risks = _risks(
        {"a": {"members": ["bob"], "data": [{"hsm": "h1", "role": "Crypto User", "scope": "/keys/k"}]}}
    )
    assert "HSM-wide key use" not in risks[(Action.CREATE, "Managed HSM Crypto User", "/keys/k")]


def test_administrator_can_assign_roles_and_auditor_is_not_flagged():
    teams = {
        "a": {
            "members": ["team"],
            "data": [{"hsm": "h1", "role": "Administrator"}, {"hsm": "h1", "role": "Crypto Auditor"}],
        }
    }
    risks = _risks(teams)
    assert "can assign roles" in risks[(Action.CREATE, "Managed HSM Administrator", "/")]
    assert (
        "can manage the security domain (download, upload, download status, upload status, transfer key)"
        in risks[(Action.CREATE, "Managed HSM Administrator", "/")]
    )
    assert risks[(Action.CREATE, "Managed HSM Crypto Auditor", "/")] == ()


def test_removal_is_flagged():
    risks = _risks({}, live(assignment(1, "/", AUDITOR, ALICE)))
    assert risks[(Action.DELETE, "Managed HSM Crypto Auditor", "/")] == ("removes access",)


def test_owner_on_the_management_plane_can_assign_azure_roles():
    teams = {
        "a": {
            "members": ["team"],
            "management": [{"role": "Owner", "scope": RG}, {"role": "Reader", "scope": RG}],
        }
    }
    risks = _risks(teams)
    assert risks[(Action.CREATE, "Owner", RG)] == ("can assign Azure roles",)
    assert risks[(Action.CREATE, "Reader", RG)] == ()


def test_custom_role_gaining_export_is_flagged():
    roles = {"r": {"hsm": "h1", "name": "R", "data_actions": ["keys/export/action"]}}
    risks = _risks({}, roles=roles)
    assert risks[(Action.CREATE, "R", "/")] == ("role gains: export keys",)


def test_a_role_with_only_read_wrap_unwrap_is_not_said_to_sign_or_encrypt():
    """Issue 9, item 12: flags name exactly the actions the role grants."""
    actions = ["keys/read/action", "keys/wrap/action", "keys/unwrap/action"]
    roles = {"r": {"hsm": "h1", "name": "R", "data_actions": actions}}
    teams = {"a": {"members": ["team"], "data": [{"hsm": "h1", "role": "r", "scope": "/keys/k"}]}}
    risks = _risks(teams, roles=roles)
    assert risks[(Action.CREATE, "R", "/keys/k")] == ("can use keys (wrap, unwrap)",)
