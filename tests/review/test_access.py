"""Effective access: action names, who-can, explain and access deltas, on Contoso and literals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hsmsync.core.access import (
    Capability,
    access_delta,
    effective_data_actions,
    explain,
    grants_from_desired,
    grants_from_live,
    plan_access_delta,
    resolve_action,
    state_after_plan,
    who_can,
)
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import DataRoleAssignment, HsmState, LiveState, Permission, RoleDefinition
from hsmsync.manifest import LoadedManifest, load_manifest
from tests.review.builders import build, custom_role, data, pid

CONTOSO = Path(__file__).resolve().parents[2] / "examples" / "contoso"
P = "Microsoft.KeyVault/managedHsm/"


@pytest.fixture(scope="module")
def contoso() -> LoadedManifest:
    return load_manifest(CONTOSO / "hsmsync.yaml")


@pytest.fixture(scope="module")
def tutorial() -> LiveState:
    return LiveState.model_validate(json.loads((CONTOSO / "live-as-tutorial.json").read_text()))


def _id(loaded: LoadedManifest, key: str) -> str:
    """A principal's object id (the manifest pins every id)."""
    principal_id = loaded.manifest.principals[key].id
    assert principal_id is not None
    return str(principal_id)


class TestResolveAction:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("sign", "keys/sign/action"),
            ("SIGN", "keys/sign/action"),
            ("keys/sign/action", "keys/sign/action"),
            ("keys/sign", "keys/sign/action"),
            (P + "keys/sign/action", "keys/sign/action"),
            ("microsoft.keyvault/managedhsm/keys/sign/action", "keys/sign/action"),
            ("create", "keys/create"),
            ("purge", "keys/deletedKeys/delete"),
            ("download", "securitydomain/download/action"),
            ("rng", "rng/action"),
        ],
    )
    def test_known_forms(self, text: str, expected: str) -> None:
        assert resolve_action(text) == P + expected

    @pytest.mark.parametrize(("text", "hint"), [("sgn", "'sign'"), ("keys/sing/action", "keys/sign/action")])
    def test_unknown_actions_suggest(self, text: str, hint: str) -> None:
        with pytest.raises(HsmsyncError, match="unknown") as err:
            resolve_action(text)
        assert hint in str(err.value)

    def test_wildcards_are_refused(self) -> None:
        with pytest.raises(HsmsyncError, match="wildcard"):
            resolve_action("keys/*")


class TestEffectiveActions:
    def test_wildcards_minus_not_actions_case_insensitive(self) -> None:
        role = RoleDefinition(
            name="00000000-0000-0000-0000-0000000000aa",
            permissions=(
                Permission(
                    data_actions=(P.upper() + "KEYS/*",),
                    not_data_actions=(P + "keys/export/action", P + "keys/deletedKeys/*"),
                ),
            ),
        )
        short = {a.removeprefix(P) for a in effective_data_actions(role)}
        assert {"keys/sign/action", "keys/create", "keys/rotate/action"} <= short
        assert not {"keys/export/action", "keys/deletedKeys/delete", "roleAssignments/write/action"} & short


class TestWhoCan:
    def test_sign_on_app_signing_is_the_app_vm_through_its_team(self, contoso: LoadedManifest) -> None:
        [path] = who_can(
            grants_from_desired(contoso.desired), "contoso", resolve_action("sign"), "app-signing"
        )
        assert (path.via, path.principal, path.role, path.scope) == (
            "team application",
            "app-vm",
            "Managed HSM Crypto User",
            "/",
        )

    def test_rotate_includes_the_custom_role_at_the_key_and_not_auditors(
        self, contoso: LoadedManifest
    ) -> None:
        paths = who_can(
            grants_from_desired(contoso.desired), "contoso", resolve_action("rotate"), "app-signing"
        )
        assert [(p.principal, p.role, p.scope) for p in paths] == [
            ("app-vm", "Managed HSM Crypto User", "/"),
            ("key-rotation", "Contoso Key Rotator", "/keys/app-signing"),
        ]

    def test_a_key_scope_does_not_reach_another_key(self, contoso: LoadedManifest) -> None:
        paths = who_can(grants_from_desired(contoso.desired), "contoso", resolve_action("rotate"), "other")
        assert [p.principal for p in paths] == ["app-vm"]

    def test_keys_scope_covers_every_key_and_management_roles_grant_no_data_action(self) -> None:
        _, d = build({"a": "Group"}, {"t": (["a"], [data("Crypto Auditor", "/keys")])})
        grants = grants_from_desired(d)
        assert [p.principal for p in who_can(grants, "h1", resolve_action("keys/read"), "k9")] == ["a"]
        assert who_can(grants, "h1", resolve_action("keys/read"), None)[0].scope == "/keys"
        assert who_can(grants, "h2", resolve_action("keys/read"), None) == []

    def test_live_grants_with_a_defunct_role_grant_nothing(self) -> None:
        dangling = DataRoleAssignment(
            name="00000000-0000-0000-0000-000000000001",
            scope="/",
            role_definition_id="00000000-0000-0000-0000-00000000dead",
            principal_id=pid("x"),
        )
        live = LiveState(hsms={"h1": HsmState(url="https://h1", role_assignments=(dangling,))})
        grants = grants_from_live(live, {})
        assert grants[0].data_actions == frozenset() and "defunct" in grants[0].role_name
        assert who_can(grants, "h1", resolve_action("sign"), None) == []


class TestExplain:
    def test_live_grants_the_manifest_does_not_declare_are_flagged(
        self, contoso: LoadedManifest, tutorial: LiveState
    ) -> None:
        declared = grants_from_desired(contoso.desired)
        held = grants_from_live(tutorial, contoso.desired.principals)
        e = explain(held, _id(contoso, "app-vm"), declared)
        [item] = e.grants
        assert e.principal == "app-vm" and item.grant.role_name == "Managed HSM Crypto Auditor"
        assert item.unneeded == ("not declared by the manifest",)

    def test_declared_access_on_both_planes_is_needed(self, contoso: LoadedManifest) -> None:
        grants = grants_from_desired(contoso.desired)
        e = explain(grants, _id(contoso, "security-team"), grants)
        assert [(i.grant.plane.value, i.grant.role_name) for i in e.grants] == [
            ("data", "Managed HSM Administrator"),
            ("management", "Managed HSM Contributor"),
        ]
        assert all(i.unneeded == () for i in e.grants)
        assert "roleAssignments: delete, read, write" in e.grants[0].summary

    def test_a_grant_covered_by_a_broader_one_of_a_superset_role_is_redundant(self) -> None:
        _, d = build(
            {"app": "ServicePrincipal"},
            {
                "a": (["app"], [data("Crypto User", "/")]),
                "b": (["app"], [data("Crypto User", "/keys/k"), data("Crypto Service Encryption User", "/")]),
            },
        )
        e = explain(grants_from_desired(d), pid("app"), None)
        flagged = {(i.grant.role_name, i.grant.scope) for i in e.grants if i.unneeded}
        assert flagged == {
            ("Managed HSM Crypto User", "/keys/k"),
            ("Managed HSM Crypto Service Encryption User", "/"),
        }

    def test_a_narrower_role_at_a_broader_scope_is_not_redundant(self) -> None:
        _, d = build(
            {"app": "ServicePrincipal"},
            {"a": (["app"], [data("Crypto Auditor", "/"), data("Crypto User", "/keys/k")])},
        )
        assert all(i.unneeded == () for i in explain(grants_from_desired(d), pid("app"), None).grants)


class TestAccessDelta:
    def test_tutorial_state_to_manifest(self, contoso: LoadedManifest, tutorial: LiveState) -> None:
        plan = plan_changes(contoso.desired, tutorial)
        after = state_after_plan(tutorial, plan)
        delta = access_delta(
            grants_from_live(tutorial, contoso.desired.principals),
            grants_from_live(after, contoso.desired.principals),
        )
        assert delta == plan_access_delta(tutorial, plan, contoso.desired.principals)
        changed = {(c.capability, c.scope): (c.gained, c.lost) for c in delta.changes}
        # The VM identity gets Crypto User (the tutorial's commands gave it Crypto Auditor).
        assert changed[(Capability.USE_KEYS, "/")] == (("app-vm",), ())
        assert changed[(Capability.EXPORT_OR_RELEASE, "/")] == (("app-vm",), ())
        # The security team already had its role; the only new role assigner is hsmsync's own pipeline.
        assert changed[(Capability.ASSIGN_ROLES, "/")] == (("pipeline",), ())
        assert (
            "after this change, 1 more principal can use keys (sign, verify, encrypt, decrypt, wrap, unwrap) "
            "at / on contoso: app-vm"
        ) in delta.sentences()

    def test_gains_are_reported_at_the_broadest_scope_and_sentences_count_principals(self) -> None:
        _, before = build(
            {"a": "ServicePrincipal", "b": "ServicePrincipal"},
            {"t": (["a"], [data("Crypto User", "/keys/k")])},
        )
        _, after = build(
            {"a": "ServicePrincipal", "b": "ServicePrincipal"},
            {"t": (["a", "b"], [data("Crypto User", "/keys/k")]), "u": (["a"], [data("Crypto User", "/")])},
        )
        delta = access_delta(grants_from_desired(before), grants_from_desired(after))
        use = [(c.scope, c.gained, c.lost) for c in delta.changes if c.capability is Capability.USE_KEYS]
        assert use == [("/", ("a",), ()), ("/keys/k", ("b",), ())]

    def test_sentences_name_exactly_the_actions_gained(self) -> None:
        """Issue 9, item 12: a role with only read/wrap/unwrap does not "use keys (sign, ...)"."""
        roles = {
            "wrapper": custom_role(
                "Wrapper", P + "keys/read/action", P + "keys/wrap/action", P + "keys/unwrap/action"
            )
        }
        _, before = build(
            {"a": "ServicePrincipal", "b": "ServicePrincipal"},
            {"t": (["b"], [data("Crypto User", "/")])},
            roles=roles,
        )
        _, after = build(
            {"a": "ServicePrincipal", "b": "ServicePrincipal"},
            {"t": (["a"], [data("wrapper", "/keys/k")]), "u": (["b"], [data("wrapper", "/")])},
            roles=roles,
        )
        sentences = access_delta(grants_from_desired(before), grants_from_desired(after)).sentences()
        assert (
            "after this change, 1 more principal can use keys (wrap, unwrap) at /keys/k on h1: a" in sentences
        )
        # b keeps wrap/unwrap and loses exactly the rest of Crypto User's key operations and release
        assert (
            "after this change, 1 fewer principal can use keys (sign, verify, encrypt, decrypt) at / on h1: b"
            in sentences
        )
        assert "after this change, 1 fewer principal can release keys at / on h1: b" in sentences
        assert not any("sign" in s for s in sentences if ": a" in s)

    def test_losing_access_and_no_change(self) -> None:
        _, before = build(
            {"a": "Group", "b": "Group"}, {"t": (["a", "b"], [data("Policy Administrator", "/")])}
        )
        _, after = build({"a": "Group", "b": "Group"}, {})
        delta = access_delta(grants_from_desired(before), grants_from_desired(after))
        assert "after this change, 2 fewer principals can assign roles at / on h1: a, b" in delta.sentences()
        assert access_delta(grants_from_desired(before), grants_from_desired(before)).is_empty


class TestGroupedAccessDelta:
    """Issue 12: the review lists principal x ability x places, not one sentence per key."""

    def test_per_key_grants_read_as_one_line_listing_the_keys(self) -> None:
        from hsmsync.core.plan import Plan
        from hsmsync.core.review import PlanReview

        people = {"a": "ServicePrincipal", "b": "ServicePrincipal", "c": "Group"}
        keys = ["k1", "k2", "k3"]
        _, before = build(people, {"ops": (["c"], [data("Policy Administrator", "/")])}, hsms=("h1", "h2"))
        grants = [data("Crypto User", f"/keys/{k}") for k in keys] + [
            data("Crypto User", "/keys/k1", on="h2")
        ]
        _, after = build(people, {"app": (["a", "b"], grants)}, hsms=("h1", "h2"))
        delta = access_delta(grants_from_desired(before), grants_from_desired(after))
        review = PlanReview(Plan(()), access=delta)
        assert review.access_sentences() == [
            "c can no longer assign roles at / on h1",
            "c can no longer manage role definitions (write, delete) at / on h1",
            "a, b can now use keys (sign, verify, encrypt, decrypt, wrap, unwrap) "
            "at /keys/k1, /keys/k2, /keys/k3 on h1; /keys/k1 on h2",
            "a, b can now release keys at /keys/k1, /keys/k2, /keys/k3 on h1; /keys/k1 on h2",
        ]
        (use,) = [g for g in review.access_groups() if g.capability is Capability.USE_KEYS]
        assert use.to_dict()["places"][-1] == {"hsm": "h2", "scope": "/keys/k1"}
        assert use.principals == ("a", "b") and use.gained

    def test_hsms_with_the_same_scopes_share_a_part_of_the_line(self) -> None:
        people = {"a": "ServicePrincipal"}
        _, before = build(people, {}, hsms=("h1", "h2", "h3"))
        grants = [data("Crypto User", "/keys/k", on=h) for h in ("h1", "h2")] + [data("Crypto User", on="h3")]
        _, after = build(people, {"x": (["a"], grants)}, hsms=("h1", "h2", "h3"))
        groups = access_delta(grants_from_desired(before), grants_from_desired(after)).grouped()
        assert groups[0].sentence() == (
            "a can now use keys (sign, verify, encrypt, decrypt, wrap, unwrap) at /keys/k on h1, h2; / on h3"
        )

    def test_principals_with_different_places_get_their_own_lines(self) -> None:
        people = {"a": "ServicePrincipal", "b": "ServicePrincipal"}
        _, before = build(people, {})
        _, after = build(
            people,
            {
                "x": (["a"], [data("Crypto User", "/keys/k1")]),
                "y": (["b"], [data("Crypto User", "/keys/k2")]),
            },
        )
        groups = access_delta(grants_from_desired(before), grants_from_desired(after)).grouped()
        use = [(g.principals, g.places) for g in groups if g.capability is Capability.USE_KEYS]
        assert use == [(("a",), (("h1", "/keys/k1"),)), (("b",), (("h1", "/keys/k2"),))]
