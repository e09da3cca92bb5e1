"""PIM for Groups schedules count from their start until their end, judged at the one clock
(`--at` where a command has it, else now): an ended eligibility or active assignment grants
nothing in whocan, explain, keys, matrix, lint or the plan's review; one not yet started neither."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hsmsync.core.expiry import in_force, live_as_of
from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import DirectoryObject, PimMembership
from tests.conftest import CONTOSO, run_cli

SECURITY = "6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11"
ALICE, BOB = "a1b2c3d4-0001-4a00-8000-00000000a11c", "a1b2c3d4-0002-4a00-8000-00000000b0b0"
END = datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
BEFORE, AFTER = END - timedelta(seconds=1), END + timedelta(days=1)
# before the end: counted; at the end and after it: not
WHEN = [(BEFORE, True), (END, False), (AFTER, False)]


def _at(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@pytest.fixture
def contoso_pim(tmp_path: Path) -> Path:
    """Contoso with Alice's Administrator through an active PIM membership of the security team
    and Bob's eligibility, both ending at END."""
    state = json.loads((CONTOSO / "live-with-groups.json").read_text())
    for o in state["directory"]:
        if o["id"] == ALICE:
            o.pop("member_of")
            o["pim"] = [{"group": SECURITY, "status": "active", "end": _at(END)}]
        if o["id"] == BOB:
            o["pim"] = [{"group": SECURITY, "status": "eligible", "end": _at(END)}]
    (tmp_path / "live.json").write_text(json.dumps(state))
    (tmp_path / "hsmsync.yaml").write_text((CONTOSO / "hsmsync.yaml").read_text())
    return tmp_path


@pytest.mark.parametrize(("now", "counted"), WHEN)
def test_whocan_counts_a_schedule_until_its_end(contoso_pim: Path, now: datetime, counted: bool):
    r = run_cli(
        "whocan",
        "roleAssignments/write",
        "--hsm",
        "contoso",
        "--state",
        "live.json",
        cwd=contoso_pim,
        now=now,
    )
    assert r.exit_code == 0, r.stderr
    assert ("Alice" in r.stdout) is counted
    assert ("Bob" in r.stdout) is counted
    assert "security-team (Group)" in r.stdout  # the group's own grant is untouched


@pytest.mark.parametrize(("now", "counted"), WHEN)
def test_explain_counts_a_schedule_until_its_end(contoso_pim: Path, now: datetime, counted: bool):
    r = run_cli("explain", BOB, "--state", "live.json", "--format", "json", cwd=contoso_pim, now=now)
    assert r.exit_code == 0, r.stderr
    assert ("Contoso Security Team" in r.stdout) is counted


@pytest.mark.parametrize(("now", "counted"), WHEN)
def test_keys_and_matrix_count_a_schedule_until_its_end(contoso_pim: Path, now: datetime, counted: bool):
    keys = run_cli("keys", "--state", "live.json", "--at", _at(now), cwd=contoso_pim)  # --at: the clock
    assert keys.exit_code == 0, keys.stderr
    assert ("Alice" in keys.stdout, "Bob" in keys.stdout) == (counted, counted)
    matrix = run_cli("matrix", "--state", "live.json", cwd=contoso_pim, now=now)
    assert matrix.exit_code == 0, matrix.stderr
    assert ("Alice" in matrix.stdout, "Bob" in matrix.stdout) == (counted, counted)


@pytest.mark.parametrize(("now", "counted"), WHEN)
def test_the_plans_review_counts_a_schedule_until_its_end(contoso_pim: Path, now: datetime, counted: bool):
    # The security team gains Crypto User on a key: its members gain it, in the access delta and
    # the markdown's access matrix, while their membership is in force.
    manifest = contoso_pim / "hsmsync.yaml"
    admin = "      - {hsm: contoso, role: Managed HSM Administrator, scope: /}\n  devops:"
    text = manifest.read_text()
    assert admin in text
    manifest.write_text(
        text.replace(
            admin,
            admin.replace(
                "\n  devops:",
                "\n      - {hsm: contoso, role: Crypto User, scope: /keys/app-signing}\n  devops:",
            ),
        )
    )
    r = run_cli("plan", "--state", "live.json", "--format", "json", cwd=contoso_pim, now=now)
    assert r.exit_code == 0, r.stderr
    gained = {
        p for g in json.loads(r.stdout)["access_delta"] if g["change"] == "gained" for p in g["principals"]
    }
    assert ("Alice (on-call engineer) (through Contoso Security Team)" in gained) is counted
    assert "security-team" in gained
    markdown = run_cli("plan", "--state", "live.json", "--format", "markdown", cwd=contoso_pim, now=now)
    assert ("Alice" in markdown.stdout) is counted


@pytest.mark.parametrize(("now", "counted"), [(BEFORE, False), (END, True), (AFTER, True)])
def test_lint_counts_a_schedule_from_its_start(contoso_pim: Path, now: datetime, counted: bool):
    # A permanent active assignment starting at END: Alice holds Administrator at all times from
    # then on (HSM022), and not before.
    live = json.loads((contoso_pim / "live.json").read_text())
    alice = next(o for o in live["directory"] if o["id"] == ALICE)
    alice["pim"] = [{"group": SECURITY, "status": "active", "start": _at(END)}]
    (contoso_pim / "live.json").write_text(json.dumps(live))
    r = run_cli("lint", "--state", "live.json", "--format", "json", "--at", _at(now), cwd=contoso_pim)
    standing = [f["target"] for f in json.loads(r.stdout)["findings"] if f["rule"] == "HSM022"]
    assert ("Alice (on-call engineer)" in standing) is counted


def _live(*pim: PimMembership) -> LiveState:
    alice = DirectoryObject(id=ALICE, type="User", display_name="Alice", pim=pim)
    return LiveState(directory=(alice,))


def test_live_as_of_keeps_only_schedules_in_force():
    ended = PimMembership(group=SECURITY, status="eligible", end=END)
    later = PimMembership(group=SECURITY, status="active", start=END)
    naive = PimMembership(group=SECURITY, status="active", end=END.replace(tzinfo=None))  # read as UTC
    live = _live(ended, later, naive)
    assert live_as_of(live, BEFORE).directory == _live(ended, naive).directory
    assert live_as_of(live, END).directory == _live(later).directory
    untouched = _live(PimMembership(group=SECURITY, status="eligible"))
    assert live_as_of(untouched, AFTER) is untouched
    assert live_as_of(LiveState(), AFTER).directory is None


def test_in_force_compares_instants_across_zones():
    plus_two = END.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+02:00").tzinfo)
    p = PimMembership(group=SECURITY, status="active", end=plus_two)
    assert in_force(p, BEFORE) and not in_force(p, END)


def test_a_saved_plan_made_before_a_schedule_ends_is_stale_after_it(contoso_pim: Path) -> None:
    """The plan was reviewed while Alice's active membership counted; applied after it ended, the
    access it was reviewed against is gone: refused as stale, never applied."""
    made = run_cli("plan", "--state", "live.json", "--out", "plan.json", cwd=contoso_pim, now=BEFORE)
    assert made.exit_code == 0, made.stderr
    before = (contoso_pim / "live.json").read_text()
    late = run_cli("apply", "plan.json", "--state", "live.json", "--auto-approve", cwd=contoso_pim, now=END)
    assert late.exit_code == 1, late.stdout + late.stderr
    assert "the saved plan is stale" in late.stderr, late.stderr
    assert (contoso_pim / "live.json").read_text() == before  # nothing applied
    in_time = run_cli(
        "apply", "plan.json", "--state", "live.json", "--auto-approve", cwd=contoso_pim, now=BEFORE
    )
    assert in_time.exit_code == 0, in_time.stdout + in_time.stderr  # the same plan, still in force: applies
