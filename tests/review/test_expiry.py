"""Time-bound grants (`expires:`): desired before the expiry, not at or after it; plan shows the
expiry, drift reports an expired grant and apply removes it, whatever `prune` says. Time is
injected, never waited for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hsmsync.core.compile import compile_manifest
from hsmsync.core.expiry import as_of
from hsmsync.core.ids import deterministic_name
from hsmsync.core.model import Manifest
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import LiveState
from tests.conftest import CONTOSO, run_cli
from tests.review.builders import hsm, pid

EXPIRES = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
BEFORE, AT, AFTER = EXPIRES - timedelta(seconds=1), EXPIRES, EXPIRES + timedelta(hours=1)
ONCALL_ID = "a1b2c3d4-0001-4a00-8000-00000000a11c"


def _manifest(expires: object, *, prune: bool = False, plane: str = "data") -> Manifest:
    entry: dict[str, object] = (
        {"hsm": "h1", "role": "Managed HSM Crypto User", "scope": "/keys/k1"}
        if plane == "data"
        else {"role": "Reader", "scope": "/subscriptions/11111111-2222-3333-4444-555555555555"}
    )
    if expires is not None:
        entry["expires"] = expires
    return Manifest.model_validate(
        {
            "version": 1,
            "principals": {"job": {"type": "ServicePrincipal", "id": pid("job")}},
            "hsms": {"h1": {**hsm("h1"), "prune": prune}},
            "teams": {"t": {"members": ["job"], plane: [entry]}},
        }
    )


class TestAsOf:
    @pytest.mark.parametrize(("now", "desired"), [(BEFORE, True), (AT, False), (AFTER, False)])
    def test_desired_before_not_at_or_after(self, now: datetime, desired: bool) -> None:
        d = as_of(compile_manifest(_manifest("2026-12-24T18:00:00Z")), now)
        assert bool(d.assignments) is desired
        assert bool(d.expired) is not desired

    def test_other_time_zones_mean_the_same_instant(self) -> None:
        d = compile_manifest(_manifest("2026-12-24T19:00:00+01:00"))
        assert d.assignments[0].expires == EXPIRES

    def test_name_does_not_depend_on_expires(self) -> None:
        with_expiry = compile_manifest(_manifest("2026-12-24T18:00:00Z")).assignments[0]
        without = compile_manifest(_manifest(None)).assignments[0]
        assert with_expiry.key == without.key
        live = LiveState()
        created = plan_changes(as_of(compile_manifest(_manifest("2030-01-01T00:00:00Z")), BEFORE), live)
        plain = plan_changes(compile_manifest(_manifest(None)), live)
        assert [c.name for c in created.changes] == [c.name for c in plain.changes]
        assert created.changes[0].name == deterministic_name(*with_expiry.key)

    def test_two_teams_one_without_expiry_keeps_it(self) -> None:
        doc = _manifest("2026-12-24T18:00:00Z").model_dump(mode="json", exclude_none=True)
        doc["teams"]["u"] = {
            "members": ["job"],
            "data": [{"hsm": "h1", "role": "Managed HSM Crypto User", "scope": "/keys/k1"}],
        }
        d = as_of(compile_manifest(Manifest.model_validate(doc)), AFTER)
        assert len(d.assignments) == 1 and d.assignments[0].expires is None

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("2026-12-24T18:00:00", "time zone"),
            ("2026-12-24", "not a date alone"),
            ("next tuesday", "not an ISO 8601 time"),
        ],
    )
    def test_ambiguous_or_bad_times_are_errors(self, value: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            _manifest(value)


def _state_with_grant(tmp_path: Path, manifest_text: str) -> None:
    (tmp_path / "hsmsync.yaml").write_text(manifest_text)
    (tmp_path / "state.json").write_text((CONTOSO / "empty-state.json").read_text())


MANIFEST = (CONTOSO / "hsmsync.yaml").read_text()
ONCALL = MANIFEST.replace(
    "  pipeline:       {type: ServicePrincipal",
    "  oncall:         {type: User, id: a1b2c3d4-0001-4a00-8000-00000000a11c, name: Alice}\n"
    "  pipeline:       {type: ServicePrincipal",
).replace(
    "teams:\n",
    "teams:\n  break-glass:\n    members: [oncall]\n    data:\n"
    "      - {hsm: contoso, role: Crypto User, scope: /keys/app-signing, expires: 2026-12-24T18:00:00Z}\n",
)


class TestCli:
    def test_plan_shows_the_expiry_before_it(self, tmp_path: Path) -> None:
        _state_with_grant(tmp_path, ONCALL)
        r = run_cli("plan", "--state", "state.json", "--format", "json", cwd=tmp_path, now=BEFORE)
        assert r.exit_code == 0, r.stderr
        plan = json.loads(r.stdout)
        created = [c for c in plan["changes"] if c.get("principal_id") == ONCALL_ID]
        assert len(created) == 1
        assert created[0]["reason"].endswith("; expires 2026-12-24T18:00:00Z")
        text = run_cli("plan", "--state", "state.json", cwd=tmp_path, now=BEFORE).stdout
        assert (
            "oncall: Managed HSM Crypto User at /keys/app-signing on contoso expires 2026-12-24T18:00:00Z"
            in text
        )

    @pytest.mark.parametrize("now", [AT, AFTER])
    def test_at_and_after_it_is_not_created(self, tmp_path: Path, now: datetime) -> None:
        _state_with_grant(tmp_path, ONCALL)
        r = run_cli("plan", "--state", "state.json", "--format", "json", cwd=tmp_path, now=now)
        assert ONCALL_ID not in json.dumps(json.loads(r.stdout)["changes"])

    @pytest.mark.parametrize("prune", [True, False])
    def test_drift_reports_and_apply_removes_it_after(self, tmp_path: Path, prune: bool) -> None:
        text = (
            ONCALL if prune else ONCALL.replace("prune: true   # assignments", "prune: false  # assignments")
        )
        _state_with_grant(tmp_path, text)
        applied = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=tmp_path, now=BEFORE)
        assert applied.exit_code == 0, applied.stderr
        assert run_cli("drift", "--state", "state.json", cwd=tmp_path, now=BEFORE).exit_code == 0
        drift = run_cli("drift", "--state", "state.json", "--format", "json", cwd=tmp_path, now=AT)
        assert drift.exit_code == 2, drift.stdout + drift.stderr
        assert "expired at 2026-12-24T18:00:00Z" in drift.stdout
        removed = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=tmp_path, now=AFTER)
        assert removed.exit_code == 0, removed.stderr
        state = json.loads((tmp_path / "state.json").read_text())
        assert ONCALL_ID not in {a["principal_id"] for a in state["hsms"]["contoso"]["role_assignments"]}
        assert run_cli("drift", "--state", "state.json", cwd=tmp_path, now=AFTER).exit_code == 0

    def test_management_grant_expires_too(self, tmp_path: Path) -> None:
        text = ONCALL.replace(
            "      - {hsm: contoso, role: Crypto User, scope: /keys/app-signing, expires: 2026-12-24T18:00:00Z}\n",
            "      - {hsm: contoso, role: Crypto User, scope: /keys/app-signing}\n"
            "    management:\n      - {role: Reader, scope: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG, expires: 2026-12-24T18:00:00Z}\n",
        )
        _state_with_grant(tmp_path, text)
        assert (
            run_cli("apply", "--state", "state.json", "--auto-approve", cwd=tmp_path, now=BEFORE).exit_code
            == 0
        )

        def readers() -> list[dict[str, str]]:
            arm = json.loads((tmp_path / "state.json").read_text())["arm"]["role_assignments"]
            return [a for a in arm if a["principal_id"] == ONCALL_ID]

        assert len(readers()) == 1
        assert (
            run_cli("apply", "--state", "state.json", "--auto-approve", cwd=tmp_path, now=AT).exit_code == 0
        )
        assert readers() == []

    def test_naive_time_is_a_located_error(self, tmp_path: Path) -> None:
        _state_with_grant(
            tmp_path, ONCALL.replace("expires: 2026-12-24T18:00:00Z", "expires: 2026-12-24T18:00:00")
        )
        r = run_cli("validate", cwd=tmp_path)
        assert r.exit_code == 1
        assert "hsmsync.yaml:" in r.stderr and "expires" in r.stderr and "time zone" in r.stderr
        assert "Traceback" not in r.stderr


class TestOneClock:
    """`--at` sets the clock of every time-based rule of the command (grant expiry as well as key
    expiry and HSM021); without it, the environment's clock (injected here) decides."""

    LIMITED = ONCALL.replace("teams:\n", "lint:\n  max_grant_days: 7\nteams:\n", 1)

    def test_lint_at_judges_grant_expiry_at_that_time_not_at_the_clock(self, tmp_path: Path) -> None:
        _state_with_grant(tmp_path, self.LIMITED)
        audit = (EXPIRES - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # The clock reads after the expiry; as of --at the grant is still desired, 30 days out.
        r = run_cli("lint", "--at", audit, "--format", "json", "--soft-fail", cwd=tmp_path, now=AFTER)
        assert r.exit_code == 0, r.stderr
        hsm021 = [f["message"] for f in json.loads(r.stdout)["findings"] if f["rule"] == "HSM021"]
        assert hsm021 == [
            "oncall: Managed HSM Crypto User at /keys/app-signing on contoso (team break-glass) expires "
            "2026-12-24T18:00:00Z, more than 7 days from now (lint.max_grant_days)"
        ]

    def test_lint_without_at_uses_the_environment_clock(self, tmp_path: Path) -> None:
        _state_with_grant(tmp_path, self.LIMITED)
        for now, fires in ((EXPIRES - timedelta(days=30), True), (EXPIRES - timedelta(days=1), False)):
            r = run_cli("lint", "--format", "json", "--soft-fail", cwd=tmp_path, now=now)
            assert r.exit_code == 0, r.stderr
            rules = {f["rule"] for f in json.loads(r.stdout)["findings"]}
            assert ("HSM021" in rules) is fires, now

    def test_keys_without_at_is_as_of_the_environment_clock(self, tmp_path: Path) -> None:
        _state_with_grant(tmp_path, MANIFEST)
        r = run_cli("keys", "--state", "state.json", "--format", "json", cwd=tmp_path, now=BEFORE)
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["as_of"] == BEFORE.isoformat()
