"""The parallel applier's lanes and the client-side token bucket, without any I/O."""

from __future__ import annotations

import threading
import time

from hsmsync.applier import ChangeStatus, apply_plan, stages
from hsmsync.backends.azure.pacing import TokenBucket
from hsmsync.backends.base import Outcome
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import PHASES, Action, Change, Kind, Plan, Plane
from hsmsync.core.target import ARM, Target
from tests.changes import flat_change


def _change(target: str, n: int, action: Action = Action.CREATE, kind: Kind = Kind.ROLE_ASSIGNMENT) -> Change:
    plane = Plane.DATA if target.startswith("hsm") else Plane.MANAGEMENT
    return flat_change(
        id=f"{target}:{n}:{action}",
        action=action,
        kind=kind,
        plane=plane,
        target=Target.hsm(target) if plane is Plane.DATA else ARM,
        scope="/",
        name=str(n),
        role="r",
        role_id="r",
        reason="test",
    )


class Recorder:
    def __init__(self, fail: str | None = None, delay: float = 0.01) -> None:
        self.fail, self.delay = fail, delay
        self.order: list[str] = []
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def describe(self) -> str:
        return "recorder"

    def apply_change(self, change: Change) -> Outcome:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1
            self.order.append(change.id)
        if change.id == self.fail:
            raise BackendError("no")
        return Outcome.DONE


def _plan() -> Plan:
    changes = []
    for hsm in ("hsm0", "hsm1", "hsm2"):
        changes += [_change(hsm, i) for i in range(5)]
    changes += [_change("arm", i) for i in range(3)]
    for hsm in ("hsm0", "hsm1", "hsm2"):
        changes += [_change(hsm, i, Action.DELETE) for i in range(5, 8)]
    return Plan(tuple(changes))


def test_lanes_run_at_once_and_keep_their_order() -> None:
    plan = _plan()
    backend = Recorder()
    result = apply_plan(plan, backend, workers=8)
    assert result.ok and backend.peak > 1
    for target in ("hsm0", "hsm1", "hsm2", "arm"):
        expected = [c.id for c in plan.changes if c.target.key == target]
        assert [i for i in backend.order if i.startswith(f"{target}:")] == expected
    assert [r.change for r in result.results] == list(plan.changes)  # reported in plan order


def test_first_error_stops_every_lane_and_the_report_is_exact() -> None:
    plan = _plan()
    backend = Recorder(fail="hsm1:1:create", delay=0.02)
    result = apply_plan(plan, backend, workers=8)
    by_status = {s: [r.change.id for r in result.results if r.status is s] for s in ChangeStatus}
    assert by_status[ChangeStatus.FAILED] == ["hsm1:1:create"]
    assert set(by_status[ChangeStatus.APPLIED]) | {"hsm1:1:create"} == set(backend.order)
    assert "hsm1:2:create" in by_status[ChangeStatus.NOT_ATTEMPTED]
    assert len(backend.order) < len(plan.changes)


def test_the_last_phase_waits_for_everything_else() -> None:
    last_kind = next(kind for (action, kind), phase in PHASES.items() if phase == max(PHASES.values()))
    last_action = next(action for (action, kind), phase in PHASES.items() if phase == max(PHASES.values()))
    final = _change("hsm9", 0, last_action, last_kind)
    plan = Plan((*_plan().changes, final))
    groups = stages(plan.changes)
    assert groups[-1] == [[len(plan.changes) - 1]]
    backend = Recorder()
    assert apply_plan(plan, backend, workers=8).ok
    assert backend.order[-1] == final.id


def test_one_worker_is_plan_order() -> None:
    plan = _plan()
    backend = Recorder(delay=0)
    apply_plan(plan, backend)
    assert backend.order == [c.id for c in plan.changes]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_spaces_calls_after_its_burst_and_honours_retry_after() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5.0, burst=2, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(7):
        bucket.acquire()
        stamps.append(round(clock.now - 100.0, 3))
    assert stamps == [0.0, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    bucket.hold(3.0)
    bucket.acquire()
    assert round(clock.now - 100.0, 3) == 4.0


def test_token_bucket_never_exceeds_its_rate_across_threads() -> None:
    bucket = TokenBucket(50.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert stamps[-1] - stamps[0] >= 39 / 50 - 0.02
