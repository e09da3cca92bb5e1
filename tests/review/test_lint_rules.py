"""Each lint rule: a manifest where it fires and a close one where it does not."""

from __future__ import annotations

from hsmsync.core.desired import DesiredState
from hsmsync.core.lint import RULES, Finding, Severity, lint
from hsmsync.core.model import Manifest
from tests.review.builders import build, custom_role, data


def rule_hits(manifest_and_desired: tuple[Manifest, DesiredState], rule: str) -> list[Finding]:
    manifest, desired = manifest_and_desired
    return [f for f in lint(manifest, desired).findings if f.rule_id == rule]


class TestRegistry:
    def test_rule_ids_are_the_published_ones(self) -> None:
        assert sorted(RULES) == [
            "HSM000",
            "HSM001",
            "HSM002",
            "HSM003",
            "HSM004",
            "HSM005",
            "HSM006",
            "HSM007",
            "HSM008",
            "HSM009",
            "HSM010",
            "HSM011",
            "HSM012",
            "HSM013",
            "HSM014",
            "HSM020",
            "HSM021",
            "HSM022",
            "HSM023",
            "HSM030",
            "HSM031",
        ]

    def test_every_rule_has_a_rationale_and_a_fix(self) -> None:
        for rule in RULES.values():
            assert rule.name and rule.rationale.endswith(".") and rule.fix.endswith(".")


class TestSeparationOfDuties:
    def test_fires_when_one_principal_can_assign_roles_and_use_keys(self) -> None:
        m = build(
            {"ops": "Group"},
            {"ops": (["ops"], [data("Administrator"), data("Crypto User", "/keys/k1")])},
        )
        [hit] = rule_hits(m, "HSM001")
        assert hit.severity is Severity.ERROR and hit.target == "ops"
        assert "assign roles" in hit.message and "Crypto User at /keys/k1" in hit.message

    def test_fires_through_a_custom_role_holding_both(self) -> None:
        role = custom_role("Do It All", "roleAssignments/write/action", "keys/decrypt/action")
        m = build(
            {"bot": "ServicePrincipal"}, {"t": (["bot"], [data("doer", "/keys/k")])}, roles={"doer": role}
        )
        assert [f.target for f in rule_hits(m, "HSM001")] == ["bot"]

    def test_quiet_when_the_duties_are_held_by_different_principals(self) -> None:
        m = build(
            {"admins": "Group", "app": "ServicePrincipal"},
            {
                "sec": (["admins"], [data("Administrator")]),
                "app": (["app"], [data("Crypto User", "/keys/k")]),
            },
        )
        assert rule_hits(m, "HSM001") == []

    def test_quiet_when_both_are_held_on_different_hsms(self) -> None:
        m = build(
            {"ops": "Group"},
            {"ops": (["ops"], [data("Administrator", on="h1"), data("Crypto User", "/keys/k", on="h2")])},
            hsms=("h1", "h2"),
        )
        assert rule_hits(m, "HSM001") == []


class TestAdminRoleToUser:
    def test_fires_for_each_role_that_can_assign_roles_given_to_a_user(self) -> None:
        m = build(
            {"alice": "User"},
            {"t": (["alice"], [data("Administrator"), data("Policy Administrator"), data("Crypto Officer")])},
        )
        hits = rule_hits(m, "HSM002")
        assert len(hits) == 3 and {h.target for h in hits} == {"alice"}
        assert all(h.severity is Severity.WARNING for h in hits)

    def test_quiet_for_a_group_and_for_a_user_with_a_read_only_role(self) -> None:
        m = build(
            {"admins": "Group", "bob": "User"},
            {"a": (["admins"], [data("Administrator")]), "b": (["bob"], [data("Crypto Auditor")])},
        )
        assert rule_hits(m, "HSM002") == []


class TestHsmWideKeyUse:
    def test_fires_at_slash_and_at_keys(self) -> None:
        m = build(
            {"app": "ServicePrincipal", "svc": "ServicePrincipal"},
            {
                "a": (["app"], [data("Crypto User", "/")]),
                "s": (["svc"], [data("Crypto Service Release User", "/keys")]),
            },
        )
        assert sorted(f.target for f in rule_hits(m, "HSM003")) == ["app", "svc"]

    def test_fires_for_a_custom_role_with_key_use_at_hsm_scope(self) -> None:
        role = custom_role("Signer", "keys/sign/action")
        m = build({"app": "ServicePrincipal"}, {"a": (["app"], [data("signer")])}, roles={"signer": role})
        assert [f.location_path for f in rule_hits(m, "HSM003")] == [("teams", "a", "data", 0)]

    def test_quiet_at_a_key_scope_and_for_roles_that_do_not_use_keys(self) -> None:
        m = build(
            {"app": "ServicePrincipal", "audit": "Group"},
            {
                "a": (["app"], [data("Crypto User", "/keys/k1")]),
                "b": (["audit"], [data("Crypto Auditor", "/")]),
            },
        )
        assert rule_hits(m, "HSM003") == []


class TestCustomRoleTooBroad:
    def test_wildcards_are_an_error(self) -> None:
        m = build({}, {}, roles={"any": custom_role("Anything", "keys/*")})
        [hit] = rule_hits(m, "HSM004")
        assert hit.severity is Severity.ERROR and hit.target == "any"
        assert hit.location_path == ("roles", "any", "data_actions")

    def test_escalation_capable_actions_are_a_warning(self) -> None:
        roles = {
            "assigner": custom_role("Assigner", "roleAssignments/write/action"),
            "exporter": custom_role("Exporter", "keys/export/action"),
            "sd": custom_role("SD", "securitydomain/download/action"),
            "purger": custom_role("Purger", "keys/deletedKeys/delete"),
        }
        hits = rule_hits(build({}, {}, roles=roles), "HSM004")
        assert sorted(h.target for h in hits) == ["assigner", "exporter", "purger", "sd"]
        assert {h.severity for h in hits} == {Severity.WARNING}

    def test_quiet_for_a_precise_role(self) -> None:
        m = build({}, {}, roles={"rot": custom_role("Rotator", "keys/read/action", "keys/rotate/action")})
        assert rule_hits(m, "HSM004") == []


class TestLimits:
    def test_more_than_50_assignments_at_hsm_scope_counting_slash_and_keys(self) -> None:
        people = {f"g{i}": "Group" for i in range(26)}
        m = build(
            people, {"t": (list(people), [data("Crypto Auditor", "/"), data("Crypto Auditor", "/keys")])}
        )
        [hit] = rule_hits(m, "HSM010")
        assert "52 role assignments at HSM scope" in hit.message and hit.target == "h1"

    def test_more_than_10_on_one_key(self) -> None:
        people = {f"g{i}": "Group" for i in range(11)}
        m = build(people, {"t": (list(people), [data("Crypto Auditor", "/keys/k1")])})
        [hit] = rule_hits(m, "HSM010")
        assert "11 role assignments at /keys/k1" in hit.message

    def test_more_than_50_custom_roles(self) -> None:
        roles = {f"r{i}": custom_role(f"Reader {i}", "keys/read/action") for i in range(51)}
        [hit] = rule_hits(build({}, {}, roles=roles), "HSM010")
        assert "51 custom roles" in hit.message

    def test_at_the_limits_a_warning_not_an_error(self) -> None:
        people = {f"g{i}": "Group" for i in range(10)}
        roles = {f"r{i}": custom_role(f"Reader {i}", "keys/read/action") for i in range(50)}
        m = build(people, {"t": (list(people), [data("Crypto Auditor", "/keys/k1")])}, roles=roles)
        hits = rule_hits(m, "HSM010")
        assert [(h.severity, h.message) for h in hits] == [
            (Severity.WARNING, "h1: 10 role assignments at /keys/k1, at or near the limit of 10"),
            (Severity.WARNING, "h1: 50 custom roles, at or near the limit of 50"),
        ]

    def test_near_the_limits_a_warning_and_quiet_below(self) -> None:
        people = {f"g{i}": "Group" for i in range(9)}
        m = build(people, {"t": (list(people), [data("Crypto Auditor", "/keys/k1")])})
        assert [h.severity for h in rule_hits(m, "HSM010")] == [Severity.WARNING]
        people = {f"g{i}": "Group" for i in range(8)}
        m = build(people, {"t": (list(people), [data("Crypto Auditor", "/keys/k1")])})
        assert rule_hits(m, "HSM010") == []
