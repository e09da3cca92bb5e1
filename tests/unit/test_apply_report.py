"""Whatever stops an apply (a bug's exception, Ctrl-C), the report accounts for every change."""

from __future__ import annotations

import _thread
import shutil
import time
from pathlib import Path

import pytest

from hsmsync.applier import ChangeStatus, apply_plan
from hsmsync.backends.base import Outcome
from hsmsync.backends.file import FileStateBackend
from hsmsync.backends.registry import read_request_for
from hsmsync.core.plan import Change, Plan
from hsmsync.core.planner import plan_changes
from hsmsync.manifest import load_manifest
from tests.conftest import CONTOSO, run_cli


class Breaks:
    """A real backend whose n-th call raises `error` (an exception no backend should raise)."""

    def __init__(self, inner: FileStateBackend, n: int, error: BaseException) -> None:
        self.inner, self.n, self.error, self.calls = inner, n, error, 0

    def describe(self) -> str:
        return "breaks"

    def apply_change(self, change: Change) -> Outcome:
        self.calls += 1
        if self.calls == self.n:
            raise self.error
        return self.inner.apply_change(change)


def _plan(tmp_path: Path) -> tuple[Plan, FileStateBackend]:
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "state.json")
    desired = load_manifest(CONTOSO / "hsmsync.yaml").desired
    backend = FileStateBackend(tmp_path / "state.json")
    return plan_changes(desired, backend.read_state(read_request_for(desired))), backend


@pytest.mark.parametrize("workers", [1, 4])
def test_an_unexpected_exception_fails_its_change_and_the_report_is_complete(tmp_path: Path, workers: int):
    plan, backend = _plan(tmp_path)
    result = apply_plan(plan, Breaks(backend, 3, KeyError("properties")), workers=workers)
    assert len(result.results) == len(plan.changes)
    failed = [r for r in result.results if r.status is ChangeStatus.FAILED]
    assert len(failed) == 1
    assert failed[0].error == "unexpected error: KeyError: 'properties'"
    assert result.count(ChangeStatus.APPLIED) >= 2
    assert result.count(ChangeStatus.NOT_ATTEMPTED) >= 1
    assert result.unexpected is not None and "KeyError" in result.unexpected


def test_ctrl_c_during_a_change_reports_it_as_possibly_applied_and_the_rest_not_attempted(tmp_path: Path):
    plan, backend = _plan(tmp_path)
    result = apply_plan(plan, Breaks(backend, 3, KeyboardInterrupt()))
    statuses = [r.status for r in result.results]
    assert statuses[:2] == [ChangeStatus.APPLIED] * 2
    assert statuses[2] is ChangeStatus.FAILED and "may or may not have taken effect" in (
        result.results[2].error or ""
    )
    assert set(statuses[3:]) == {ChangeStatus.NOT_ATTEMPTED}
    assert result.interrupted


class InterruptsMain:
    """Ctrl-C arrives in the main thread while workers apply: as the terminal would deliver it."""

    def __init__(self, inner: FileStateBackend) -> None:
        self.inner, self.calls = inner, 0
        self.workers = 4

    def describe(self) -> str:
        return "interrupts"

    def apply_change(self, change: Change) -> Outcome:
        self.calls += 1
        if self.calls == 3:
            _thread.interrupt_main()
            time.sleep(0.2)  # in flight while the main thread takes the interrupt
        return self.inner.apply_change(change)


def test_ctrl_c_with_parallel_lanes_lets_calls_in_flight_finish_and_reports(tmp_path: Path):
    plan, backend = _plan(tmp_path)
    interrupting = InterruptsMain(backend)
    result = apply_plan(plan, interrupting, workers=4)
    assert result.interrupted
    assert len(result.results) == len(plan.changes)
    # Every call that was made is reported as made, the interrupting one included.
    assert result.count(ChangeStatus.APPLIED) + result.count(ChangeStatus.ALREADY_DONE) == interrupting.calls
    assert ChangeStatus.NOT_ATTEMPTED in {r.status for r in result.results}
    assert ChangeStatus.FAILED not in {r.status for r in result.results}  # in-flight calls finished


def _second_change_raises(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> list[Change]:
    """The file backend raises `error` on its second change; returns the calls made."""
    real = FileStateBackend.apply_change
    calls: list[Change] = []

    def breaking(self: FileStateBackend, change: Change) -> Outcome:
        calls.append(change)
        if len(calls) == 2:
            raise error
        return real(self, change)

    monkeypatch.setattr(FileStateBackend, "apply_change", breaking)
    return calls


def test_the_cli_prints_the_report_then_exits_3_for_a_bug(contoso: Path, monkeypatch: pytest.MonkeyPatch):
    calls = _second_change_raises(monkeypatch, TypeError("'NoneType' object is not subscriptable"))
    argv = ("apply", "-f", "hsmsync.yaml", "--state", "state.json", "--auto-approve")
    result = run_cli(*argv, cwd=contoso)
    assert result.exit_code == 3
    assert "[applied]" in result.stdout and "[not attempted]" in result.stdout
    assert "error: unexpected error: TypeError: 'NoneType' object is not subscriptable" in result.stdout
    assert "Apply stopped at the first error: 1 applied" in result.stdout
    assert "run with --debug for the traceback" in result.stderr and "Traceback" not in result.stderr
    calls.clear()
    shutil.copy(contoso / "empty-state.json", contoso / "state.json")
    debug = run_cli("--debug", *argv, cwd=contoso)
    assert debug.exit_code == 3 and "Traceback" in debug.stderr


def test_the_cli_prints_the_report_after_ctrl_c(contoso: Path, monkeypatch: pytest.MonkeyPatch):
    _second_change_raises(monkeypatch, KeyboardInterrupt())
    result = run_cli("apply", "-f", "hsmsync.yaml", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 130
    assert "Apply interrupted: 1 applied, 0 already so, 1 failed" in result.stdout
    assert "[not attempted]" in result.stdout
