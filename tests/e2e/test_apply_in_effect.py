"""Applied means in effect: `apply` against an HSM whose second region lags (the emulator's
replica) reads its changes back until every region shows them, reports what it could not see in
time (exit 4), skips that with --no-wait, and a plan/apply right after never duplicates a grant."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hsmsync.cli.status import ExitStatus
from hsmsync_emulator import Emulator, FaultConfig, ReplicaConfig, start_emulator
from tests.conftest import CONTOSO, run_cli
from tests.e2e.test_guard_on_emulator import ADMIN_AND_KEYS, PIPELINE, Run, manifest
from tests.emulator.test_replica import FakeClock
from tests.signin import sign_in_as

FAST = {"HSMSYNC_RETRY_BACKOFF": "0.01", "HSMSYNC_HSM_RATE": "1000", "HSMSYNC_ARM_RATE": "1000"}
LIVE = ("--live", "--endpoints", "endpoints.json")


@contextmanager
def _lagging(directory: Path, replica: ReplicaConfig) -> Iterator[Emulator]:
    """The Contoso example's empty HSM behind an emulator with a replica region."""
    shutil.copy(CONTOSO / "empty-state.json", directory / "emulated.json")
    shutil.copy(CONTOSO / "hsmsync.yaml", directory / "hsmsync.yaml")
    faults = FaultConfig(throttle=0, replica=replica)
    with start_emulator(directory / "emulated.json", faults=faults, workdir=directory / "emu") as emulator:
        emulator.write_endpoints(directory / "endpoints.json")
        sign_in_as(emulator)
        yield emulator


def _grants(emulator: Emulator) -> Counter[tuple[str, str, str]]:
    """Every data-plane grant of the HSM by its natural key, as the primary holds them."""
    hsm = emulator.state().hsms["contoso"]
    return Counter((a.scope.lower(), a.role_definition_id, a.principal_id) for a in hsm.role_assignments)


def test_apply_waits_until_the_lagging_region_shows_every_change(tmp_path: Path) -> None:
    with _lagging(tmp_path, ReplicaConfig(lag=0.5, share=0.5)):
        applied = run_cli("apply", *LIVE, "--auto-approve", cwd=tmp_path, environ=FAST)
        assert applied.exit_code == ExitStatus.OK, applied.stdout + applied.stderr
        assert "NOT YET IN EFFECT" not in applied.stdout
        # 6 on the HSM, and 5 on the management plane (2 Azure role assignments, 3 access-policy entries)
        assert "In effect: 11 changes read back in every region that answered" in applied.stdout
        assert "hsmsync: waiting for changes to take effect:" in applied.stderr  # the visible wait
        # Right after: no region plans anything again.
        again = run_cli("plan", *LIVE, "--detailed-exitcode", cwd=tmp_path, environ=FAST)
        assert again.exit_code == ExitStatus.OK, again.stdout


def test_a_bound_too_short_reports_what_is_not_in_effect_and_exits_4(tmp_path: Path) -> None:
    clock = FakeClock()  # never advanced: the replica never catches up
    with _lagging(tmp_path, ReplicaConfig(lag=360, share=0.5, clock=clock)):
        applied = run_cli("apply", *LIVE, "--auto-approve", "--wait", "0.6s", cwd=tmp_path, environ=FAST)
        assert applied.exit_code == ExitStatus.NOT_IN_EFFECT, applied.stdout + applied.stderr
        assert int(applied.exit_code) == 4  # documented in the README
        assert "Apply complete: 14 applied, 0 already so." in applied.stdout
        assert "NOT YET IN EFFECT: not yet seen in region emulator-replica" in applied.stdout
        assert "NOT YET IN EFFECT: 6 of 11 changes after waiting" in applied.stdout  # ARM has no replica
        assert "(at most 0.6s)" in applied.stdout


def test_the_json_report_says_which_changes_are_not_in_effect(tmp_path: Path) -> None:
    with _lagging(tmp_path, ReplicaConfig(lag=360, share=0.5, clock=FakeClock())):
        applied = run_cli(
            "apply", *LIVE, "--auto-approve", "--wait", "0.3", "--format", "json", cwd=tmp_path, environ=FAST
        )
        assert applied.exit_code == ExitStatus.NOT_IN_EFFECT, applied.stderr
        report = json.loads(applied.stdout)
        assert report["ok"] is True and report["in_effect"] is False
        check = report["verification"]
        assert (check["bound_seconds"], check["not_in_effect"], check["in_effect"]) == (0.3, 6, 5)
        data = [r for r in report["results"] if r["change"]["plane"] == "data"]
        assert {r["effect"] for r in data} == {"not_in_effect"}
        assert all("emulator-replica" in r["effect_note"] for r in data)
        # Management-plane changes are read back too (ARM has no lagging replica here).
        management = [r for r in report["results"] if r["change"]["plane"] == "management"]
        assert {
            r["effect"] for r in management if r["change"]["kind"] in ("role_assignment", "access_policy")
        } == {"in_effect"}


def test_no_wait_plan_and_apply_again_while_lagging_never_duplicate(tmp_path: Path) -> None:
    clock = FakeClock()
    # Every RBAC read is the replica's: right after an apply it shows none of it.
    with _lagging(tmp_path, ReplicaConfig(lag=360, share=1.0, clock=clock)) as emulator:
        first = run_cli("apply", *LIVE, "--auto-approve", "--no-wait", cwd=tmp_path, environ=FAST)
        assert first.exit_code == ExitStatus.OK, first.stdout + first.stderr
        assert "Not read back (--no-wait): 11 changes may not be in effect yet" in first.stdout
        after_first = _grants(emulator)

        replan = run_cli("plan", *LIVE, "--detailed-exitcode", cwd=tmp_path, environ=FAST)
        assert replan.exit_code == ExitStatus.CHANGES  # the lagging region does not show them yet
        assert "+ create role_assignment" in replan.stdout or "create" in replan.stdout

        second = run_cli("apply", *LIVE, "--auto-approve", "--no-wait", cwd=tmp_path, environ=FAST)
        assert second.exit_code == ExitStatus.OK, second.stdout + second.stderr
        assert "already so" in second.stdout
        assert "or by an earlier apply that a lagging region did not show yet" in second.stderr
        assert _grants(emulator) == after_first
        assert max(after_first.values()) == 1  # no grant twice, under any name

        clock.advance(360)  # replication catches up: nothing left to do
        final = run_cli("plan", *LIVE, "--detailed-exitcode", cwd=tmp_path, environ=FAST)
        assert final.exit_code == ExitStatus.OK, final.stdout


def test_a_primary_that_answers_201_before_the_effect_is_waited_for(tmp_path: Path) -> None:
    with _lagging(tmp_path, ReplicaConfig(delay=2)):  # one region; writes take effect 2 s late
        applied = run_cli("apply", *LIVE, "--auto-approve", cwd=tmp_path, environ=FAST)
        assert applied.exit_code == ExitStatus.OK, applied.stdout + applied.stderr
        assert "In effect: 11 changes" in applied.stdout
        # (How many are still pending at the first read depends on how long the apply took.)
        assert "hsmsync: waiting for changes to take effect:" in applied.stderr
        again = run_cli("plan", *LIVE, "--detailed-exitcode", cwd=tmp_path, environ=FAST)
        assert again.exit_code == ExitStatus.OK, again.stdout


def test_the_markdown_report_marks_what_is_not_in_effect(tmp_path: Path) -> None:
    with _lagging(tmp_path, ReplicaConfig(lag=360, share=0.5, clock=FakeClock())):
        applied = run_cli(
            "apply",
            *LIVE,
            "--auto-approve",
            "--wait",
            "0.3",
            "--format",
            "markdown",
            cwd=tmp_path,
            environ=FAST,
        )
        assert applied.exit_code == ExitStatus.NOT_IN_EFFECT, applied.stderr
        report = applied.stdout
        assert report.startswith("### ⏳ hsmsync apply: written, not yet in effect\n")
        rows = [
            line for line in report.splitlines() if "| **NOT YET IN EFFECT**: not yet seen in region" in line
        ]
        # Each names the replica (and the primary too when the short wait never read it there).
        assert len(rows) == 6 and all("emulator-replica |" in row for row in rows)
        assert "NOT YET IN EFFECT: 6 of 11 changes after waiting" in report


def test_bootstrap_waits_for_its_grant_before_discovering_with_it(tmp_path: Path) -> None:
    # As Azure creates the HSM: the creator is Administrator at '/' only, and cannot list keys.
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "emulated.json")
    state = json.loads((tmp_path / "emulated.json").read_text())
    hsm = state["hsms"]["contoso"]
    hsm["role_assignments"] = [a for a in hsm["role_assignments"] if a["scope"] == "/"]
    (tmp_path / "emulated.json").write_text(json.dumps(state))
    (tmp_path / "hsmsync.yaml").write_text(manifest(ADMIN_AND_KEYS))
    # The grant (Crypto Auditor at /keys) takes effect 0.5 s after its 201, in both regions.
    faults = FaultConfig(throttle=0, replica=ReplicaConfig(delay=0.5, lag=0.5, share=0.5))
    with start_emulator(tmp_path / "emulated.json", faults=faults, workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)
        adopted = Run(tmp_path)("apply", "--bootstrap", "--auto-approve")
        assert adopted.exit_code == ExitStatus.OK, adopted.stdout + adopted.stderr
        first, rest = adopted.stdout.split("Apply complete", 1)
        assert "Bootstrap: contoso denies the applying identity keys/read/action at /keys" in first
        assert rest.startswith(": 1 applied") and "In effect: 1 changes read back" in rest
        assert "Apply complete" in rest  # then discovery with the grant, and the rest of the manifest
