"""Lint over effective access and time-bound grants (HSM020-HSM023), and the access delta
naming group members, on the Contoso example with its directory (fake path)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hsmsync.core.compile import compile_manifest
from hsmsync.core.expiry import as_of
from hsmsync.core.lint import lint
from hsmsync.core.model import Manifest
from hsmsync.core.state import LiveState
from tests.conftest import CONTOSO, run_cli
from tests.review.builders import build, data

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MANIFEST = (CONTOSO / "hsmsync.yaml").read_text()


def _rules(manifest: Manifest, live: LiveState | None = None, now: datetime | None = NOW) -> list[str]:
    desired = compile_manifest(manifest)
    if now is not None:
        desired = as_of(desired, now)
    return [f"{f.rule_id} {f.target}" for f in lint(manifest, desired, live, now=now).findings]


def _with(doc_changes: Mapping[str, object], teams: Mapping[str, object]) -> Manifest:
    _, desired = build({"ops": "Group", "job": "ServicePrincipal"}, {})
    doc = {
        "version": 1,
        "principals": {
            k: {"type": t, "id": p.id}
            for k, t, p in ((p.key, p.type, p) for p in desired.principals.values())
        },
        "hsms": {
            "h1": {
                "url": "https://h1.managedhsm.azure.net",
                "resource_id": "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1",
            }
        },
        "teams": teams,
        "lint": doc_changes,
    }
    return Manifest.model_validate(doc)


class TestExpiryRules:
    def test_admin_without_expiry_only_when_policy_asks(self) -> None:
        teams = {"t": {"members": ["ops"], "data": [data("Managed HSM Administrator")]}}
        assert "HSM020 ops" not in _rules(_with({}, teams))
        assert "HSM020 ops" in _rules(_with({"require_expiry_for_admin": True}, teams))
        timed = {
            "t": {
                "members": ["ops"],
                "data": [{**data("Managed HSM Administrator"), "expires": "2026-12-02T00:00:00Z"}],
            }
        }
        assert "HSM020 ops" not in _rules(_with({"require_expiry_for_admin": True}, timed))

    def test_non_admin_grant_needs_no_expiry(self) -> None:
        teams = {"t": {"members": ["job"], "data": [data("Crypto User", "/keys/k1")]}}
        assert not [
            r for r in _rules(_with({"require_expiry_for_admin": True}, teams)) if r.startswith("HSM020")
        ]

    @pytest.mark.parametrize(
        ("expires", "fires"), [("2026-12-08T12:00:00Z", False), ("2026-12-08T12:00:01Z", True)]
    )
    def test_expiry_beyond_the_limit(self, expires: str, fires: bool) -> None:
        teams = {"t": {"members": ["job"], "data": [{**data("Crypto User", "/keys/k1"), "expires": expires}]}}
        assert ("HSM021 job" in _rules(_with({"max_grant_days": 7}, teams))) is fires

    def test_limit_needs_a_time(self) -> None:
        teams = {
            "t": {
                "members": ["job"],
                "data": [{**data("Crypto User", "/keys/k1"), "expires": "2099-01-01T00:00:00Z"}],
            }
        }
        assert "HSM021 job" not in _rules(_with({"max_grant_days": 7}, teams), now=None)


class TestUnintendedKeyAccess:
    def test_crypto_officer_can_obtain_key_use(self) -> None:
        teams = {"t": {"members": ["ops"], "data": [data("Crypto Officer")]}}
        assert "HSM023 ops" in _rules(_with({}, teams))

    def test_declared_key_use_is_intended(self) -> None:
        teams = {"t": {"members": ["ops"], "data": [data("Crypto Officer"), data("Crypto User")]}}
        assert "HSM023 ops" not in _rules(_with({}, teams))

    def test_administrator_is_left_to_hsm002_and_hsm022(self) -> None:
        assert not [r for r in _rules(Manifest.model_validate(_contoso())) if r.startswith("HSM023")]

    def test_undeclared_live_key_use_kept_by_prune_false(self, tmp_path: Path) -> None:
        text = MANIFEST.replace("prune: true   # assignments", "prune: false  # assignments")
        (tmp_path / "hsmsync.yaml").write_text(text)
        state = json.loads((CONTOSO / "live-as-tutorial.json").read_text())
        stranger = "0d0d0d0d-0000-4000-8000-00000000d00d"
        state["hsms"]["contoso"]["role_assignments"].append(
            {
                "name": "5f1e2d3c-0000-4000-8000-000000000abc",
                "scope": "/keys/app-signing",
                "role_definition_id": "21dbd100-6940-42c2-9190-5d6cb909625b",  # Crypto User
                "principal_id": stranger,
            }
        )
        (tmp_path / "live.json").write_text(json.dumps(state))
        r = run_cli("lint", "--state", "live.json", "--format", "json", cwd=tmp_path)
        found = [f for f in json.loads(r.stdout)["findings"] if f["rule"] == "HSM023"]
        assert [f["target"] for f in found] == [stranger], r.stdout
        assert "an assignment the manifest does not declare" in found[0]["message"]


def _contoso() -> dict[str, object]:
    import yaml

    loaded = yaml.safe_load(MANIFEST)
    assert isinstance(loaded, dict)
    return loaded


class TestStandingAdministrator:
    def test_user_in_a_group_permanently_is_flagged_eligible_one_is_not(self, tmp_path: Path) -> None:
        (tmp_path / "hsmsync.yaml").write_text(MANIFEST)
        (tmp_path / "live.json").write_text((CONTOSO / "live-with-groups.json").read_text())
        r = run_cli("lint", "--state", "live.json", "--format", "json", cwd=tmp_path)
        standing = [f for f in json.loads(r.stdout)["findings"] if f["rule"] == "HSM022"]
        assert [f["target"] for f in standing] == ["Alice (on-call engineer)"]
        assert (
            "group Contoso HSM On-call [member] -> group Contoso Security Team [member]"
            in standing[0]["message"]
        )

    def test_active_pim_membership_with_an_end_is_not_standing(self, tmp_path: Path) -> None:
        state = json.loads((CONTOSO / "live-with-groups.json").read_text())
        for o in state["directory"]:
            if o["display_name"].startswith("Alice"):
                o.pop("member_of")
                o["pim"] = [
                    {
                        "group": "6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11",
                        "status": "active",
                        "end": "2026-12-01T20:00:00Z",
                    }
                ]
        (tmp_path / "hsmsync.yaml").write_text(MANIFEST)
        (tmp_path / "live.json").write_text(json.dumps(state))
        r = run_cli("lint", "--state", "live.json", "--format", "json", cwd=tmp_path, now=NOW)
        assert not [f for f in json.loads(r.stdout)["findings"] if f["rule"] == "HSM022"]
        who = run_cli(  # before the end (after it the membership counts for nothing)
            "whocan",
            "roleAssignments/write",
            "--hsm",
            "contoso",
            "--state",
            "live.json",
            cwd=tmp_path,
            now=NOW,
        )
        assert "active (PIM) until 2026-12-01T20:00:00+00:00" in who.stdout


class TestAccessDeltaNamesMembers:
    def test_group_gaining_key_use_names_its_members(self, tmp_path: Path) -> None:
        text = MANIFEST.replace(
            "      - {hsm: contoso, role: Managed HSM Administrator, scope: /}\n  devops:",
            "      - {hsm: contoso, role: Managed HSM Administrator, scope: /}\n"
            "      - {hsm: contoso, role: Crypto User, scope: /keys/app-signing}\n  devops:",
        )
        assert text != MANIFEST
        (tmp_path / "hsmsync.yaml").write_text(text)
        (tmp_path / "live.json").write_text((CONTOSO / "live-with-groups.json").read_text())
        r = run_cli("plan", "--state", "live.json", "--format", "json", cwd=tmp_path)
        assert r.exit_code == 0, r.stderr
        gained = [g for g in json.loads(r.stdout)["access_delta"] if g["change"] == "gained"]
        names = {p for g in gained for p in g["principals"]}
        assert "security-team" in names
        assert "Alice (on-call engineer) (through Contoso HSM On-call -> Contoso Security Team)" in names
        assert not any(n.startswith("Bob") for n in names)  # eligible: gains nothing until activated
        assert not any(n.startswith("security CI runner") for n in names)  # SP membership not honoured
