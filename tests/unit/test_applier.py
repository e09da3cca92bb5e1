"""The applier: order, idempotence, and stopping at the first error with an exact report."""

from __future__ import annotations

import shutil
from pathlib import Path

from hsmsync.applier import ChangeStatus, apply_plan
from hsmsync.backends.base import Outcome
from hsmsync.backends.file import FileStateBackend
from hsmsync.backends.registry import read_request_for
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import Change
from hsmsync.core.planner import plan_changes
from hsmsync.manifest import load_manifest
from tests.conftest import CONTOSO


class FailingOn:
    """Wraps a real backend and fails the n-th change, as a service error would."""

    def __init__(self, inner: FileStateBackend, n: int) -> None:
        self.inner, self.n, self.calls = inner, n, 0

    def describe(self) -> str:
        return "failing"

    def read_state(self, request):
        return self.inner.read_state(request)

    def apply_change(self, change: Change) -> Outcome:
        self.calls += 1
        if self.calls == self.n:
            raise BackendError("BadParameter: the service said no")
        return self.inner.apply_change(change)


def _setup(tmp_path: Path):
    state = tmp_path / "state.json"
    shutil.copy(CONTOSO / "empty-state.json", state)
    desired = load_manifest(CONTOSO / "hsmsync.yaml").desired
    backend = FileStateBackend(state)
    return desired, backend


def test_stops_at_first_error_and_reports_applied_failed_not_attempted(tmp_path: Path):
    desired, backend = _setup(tmp_path)
    plan = plan_changes(desired, backend.read_state(read_request_for(desired)))
    result = apply_plan(plan, FailingOn(backend, 3))
    statuses = [r.status for r in result.results]
    assert statuses[:2] == [ChangeStatus.APPLIED, ChangeStatus.APPLIED]
    assert statuses[2] is ChangeStatus.FAILED
    assert set(statuses[3:]) == {ChangeStatus.NOT_ATTEMPTED}
    assert result.results[2].error == "BadParameter: the service said no"
    assert not result.ok
    # What was applied stays applied; the next plan holds exactly the rest.
    replan = plan_changes(desired, backend.read_state(read_request_for(desired)))
    assert [c.id for c in replan.changes] == [r.change.id for r in result.results[2:]]


def test_applying_twice_changes_nothing_the_second_time(tmp_path: Path):
    desired, backend = _setup(tmp_path)
    plan = plan_changes(desired, backend.read_state(read_request_for(desired)))
    first = apply_plan(plan, backend)
    before = (tmp_path / "state.json").read_text()
    second = apply_plan(plan, backend)
    assert first.ok and second.ok
    assert {r.status for r in second.results} == {ChangeStatus.ALREADY_DONE}
    assert (tmp_path / "state.json").read_text() == before
