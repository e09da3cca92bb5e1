"""The applier: executes a plan's changes through a backend, stopping at the first error.

With `workers > 1`, changes are grouped into lanes by the resource they land on (`change.target`:
one HSM — its data plane and its settings —, one vault, or ARM) and lanes run concurrently while
each lane keeps plan order. Make before break therefore still holds per resource: an HSM's
creates precede its deletes, a custom ARM role precedes the ARM assignments that use it. The
plan's last phase (resource settings, e.g. closing public network access) starts only after every
other change is done, as the plan promises. On the first error no new change starts anywhere;
changes already in flight finish and are reported.

Whatever stops an apply, the result accounts for every change (applied, already so, failed, not
attempted): an unexpected exception (a bug) fails its change with the exception's type and
message and stops the apply like a service error; Ctrl-C stops it too (`interrupted`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from hsmsync.backends.base import ChangeApplier, EffectReader, Outcome
from hsmsync.core.effect import EffectTracker, tracker_for
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.plan import PHASES, Change, Plan
from hsmsync.core.results import (
    INTERRUPTED_IN_FLIGHT,
    ApplyResult,
    ChangeResult,
    ChangeStatus,
    Effect,
    Verification,
)
from hsmsync.core.target import Target
from hsmsync.core.vault_permissions import permission_model_refusal, switches_permission_model
from hsmsync.gc_aside import set_aside_from_gc


class ApplyReporter(Protocol):
    def change_started(self, change: Change) -> None: ...

    def change_finished(self, result: ChangeResult) -> None: ...

    def effect_waiting(self, pending: int, checked: int, waited: float, bound: float) -> None: ...


class Reporter:
    """Progress hooks; the default does nothing (the CLI passes one that prints).

    With several workers the hooks are called from worker threads, one call at a time.
    """

    def change_started(self, change: Change) -> None:
        """Called before a change is sent to the backend."""

    def change_finished(self, result: ChangeResult) -> None:
        """Called after each change, whatever its status."""

    def effect_waiting(self, pending: int, checked: int, waited: float, bound: float) -> None:
        """Called before each wait for changes to take effect: `pending` of `checked` are not
        yet seen in effect after `waited` seconds of at most `bound`."""


class _Quiet:
    """A reporter whose failures (a progress display's) never stop an apply or lose its report."""

    def __init__(self, inner: ApplyReporter) -> None:
        self.inner = inner

    def change_started(self, change: Change) -> None:
        with contextlib.suppress(Exception):
            self.inner.change_started(change)

    def change_finished(self, result: ChangeResult) -> None:
        with contextlib.suppress(Exception):
            self.inner.change_finished(result)

    def effect_waiting(self, pending: int, checked: int, waited: float, bound: float) -> None:
        with contextlib.suppress(Exception):
            self.inner.effect_waiting(pending, checked, waited, bound)


def _apply_one(backend: ChangeApplier, change: Change) -> tuple[ChangeResult, str | None]:
    """The change's result, and the traceback when an unexpected error (a bug) failed it."""
    if switches_permission_model(change):  # reported drift that no backend is asked to make
        return ChangeResult(change, ChangeStatus.FAILED, permission_model_refusal(change)), None
    try:
        outcome = backend.apply_change(change)
    except HsmsyncError as exc:
        return ChangeResult(change, ChangeStatus.FAILED, str(exc)), None
    except Exception as exc:  # noqa: BLE001 - a bug fails this change; the report must still be complete
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        return ChangeResult(change, ChangeStatus.FAILED, message), traceback.format_exc()
    status = ChangeStatus.APPLIED if outcome is Outcome.DONE else ChangeStatus.ALREADY_DONE
    return ChangeResult(change, status), None


def apply_plan(
    plan: Plan, backend: ChangeApplier, *, reporter: ApplyReporter | None = None, workers: int = 1
) -> ApplyResult:
    """Apply the plan's changes. Idempotent: what is already so counts as done.

    workers == 1: strictly in plan order. workers > 1: lanes per target, concurrently (see module).
    """
    reporter = _Quiet(reporter or Reporter())
    # The plan, the states and the manifest outlive the apply: out of the collector's passes
    # meanwhile, as in discovery (gc_aside.py).
    with set_aside_from_gc():
        if workers <= 1:
            return _apply_serial(plan.changes, backend, reporter)
        return _Parallel(plan.changes, backend, reporter, workers).run()


def _apply_serial(changes: Sequence[Change], backend: ChangeApplier, reporter: ApplyReporter) -> ApplyResult:
    results: list[ChangeResult] = []
    unexpected: str | None = None
    in_flight: Change | None = None
    try:
        for change in changes:
            in_flight = change
            reporter.change_started(change)
            result, unexpected = _apply_one(backend, change)
            results.append(result)
            in_flight = None
            reporter.change_finished(result)
            if result.status is ChangeStatus.FAILED:
                break
    except KeyboardInterrupt:
        if in_flight is not None:
            results.append(ChangeResult(in_flight, ChangeStatus.FAILED, INTERRUPTED_IN_FLIGHT))
        return _complete(changes, results, interrupted=True, unexpected=unexpected)
    return _complete(changes, results, interrupted=False, unexpected=unexpected)


def _complete(
    changes: Sequence[Change], results: list[ChangeResult], *, interrupted: bool, unexpected: str | None
) -> ApplyResult:
    """The results so far, and every later change as not attempted."""
    rest = [ChangeResult(c, ChangeStatus.NOT_ATTEMPTED) for c in changes[len(results) :]]
    return ApplyResult(tuple(results + rest), interrupted=interrupted, unexpected=unexpected)


def stages(changes: Sequence[Change]) -> list[list[list[int]]]:
    """Indices of `changes` as stages of lanes: [stage][lane][position], each lane in plan order.

    Stage 1 holds everything but the plan's last phase; stage 2 that phase (settings), so it
    starts only when all else is done. Lanes are keyed by `change.target`.
    """
    last = max(PHASES.values())
    out: list[list[list[int]]] = []
    for final in (False, True):
        lanes: dict[Target, list[int]] = {}
        for i, change in enumerate(changes):
            if (change.phase >= last) is final:
                lanes.setdefault(change.target, []).append(i)
        if lanes:
            out.append(list(lanes.values()))
    return out


class _Parallel:
    def __init__(
        self, changes: Sequence[Change], backend: ChangeApplier, reporter: ApplyReporter, workers: int
    ) -> None:
        self.changes = changes
        self.backend = backend
        self.reporter = reporter
        self.workers = workers
        self.results: list[ChangeResult | None] = [None] * len(changes)
        self.unexpected: str | None = None
        self._report_lock = threading.Lock()
        # Stopping and counting the changes in flight under one lock: once `_halt` returns, no
        # change is running and none will start (Ctrl-C can even cut a thread's start short).
        self._flight = threading.Condition()
        self._stopped = False
        self._in_flight = 0

    def _begin(self) -> bool:
        with self._flight:
            if self._stopped:
                return False
            self._in_flight += 1
            return True

    def _end(self, *, stop: bool) -> None:
        with self._flight:
            self._in_flight -= 1
            self._stopped = self._stopped or stop
            self._flight.notify_all()

    def _halt(self) -> None:
        with self._flight:
            self._stopped = True
            while self._in_flight:
                self._flight.wait()

    def _started(self, change: Change) -> None:
        with self._report_lock:
            self.reporter.change_started(change)

    def _finished(self, result: ChangeResult) -> None:
        with self._report_lock:
            self.reporter.change_finished(result)

    def _run_lane(self, lane: list[int]) -> None:
        for i in lane:
            if not self._begin():
                return
            change = self.changes[i]
            self._started(change)
            result, unexpected = _apply_one(self.backend, change)
            self.results[i] = result
            failed = result.status is ChangeStatus.FAILED
            if failed:
                self.unexpected = self.unexpected or unexpected
            self._finished(result)
            self._end(stop=failed)

    def run(self) -> ApplyResult:
        interrupted = False
        for lanes in stages(self.changes):
            if self._stopped:
                break
            # Longest lanes first: they bound the wall time.
            ordered = sorted(lanes, key=len, reverse=True)
            pool = ThreadPoolExecutor(min(self.workers, len(ordered)), thread_name_prefix="hsmsync-apply")
            try:
                futures = [pool.submit(self._run_lane, lane) for lane in ordered]
                for future in futures:
                    future.result()
            except KeyboardInterrupt:  # in the main thread: start nothing new, let in-flight calls end
                interrupted = True
                self._halt()
            finally:
                pool.shutdown(wait=not interrupted)
        return ApplyResult(
            tuple(
                r if r is not None else ChangeResult(c, ChangeStatus.NOT_ATTEMPTED)
                for c, r in zip(self.changes, self.results, strict=True)
            ),
            interrupted=interrupted,
            unexpected=self.unexpected,
        )


# Applied means in effect: how long apply waits for its changes to be seen (the docs give up to
# about 6 minutes of replication to a second region), and how often it reads them back.
DEFAULT_EFFECT_WAIT = 600.0
FIRST_RECHECK = 0.25
MAX_RECHECK = 10.0


@dataclass(frozen=True, slots=True)
class WaitClock:
    """The time the read-back waits by (tests pass one they advance themselves)."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK = WaitClock()


def verify_effect(
    result: ApplyResult,
    reader: EffectReader,
    *,
    bound: float | None = DEFAULT_EFFECT_WAIT,
    reporter: ApplyReporter | None = None,
    clock: WaitClock = SYSTEM_CLOCK,
) -> ApplyResult:
    """Read back every applied change hsmsync can check (`core/effect.py`) until each is seen in
    effect in every region that has answered, or `bound` seconds have passed; `bound` None
    (`--no-wait`) marks them not checked. Each round costs one read per HSM and scope still
    pending, however many changes share it; waits double from FIRST_RECHECK up to MAX_RECHECK."""
    tracker = tracker_for(result.results)
    if not tracker.changes:
        return result
    if bound is None:
        return _with_effects(
            result, dict.fromkeys(tracker.changes, Effect.NOT_CHECKED), {}, Verification(None)
        )
    quiet = _Quiet(reporter or Reporter())
    for hsm in tracker.hsms():
        tracker.learn_regions(hsm, reader.regions(hsm))
    started, pause, turn, reads = clock.now(), FIRST_RECHECK, 0, 0
    interrupted = False
    try:
        while True:
            needed = tracker.reads(turn)
            for observation in reader.read_back(needed):
                tracker.record(observation)
            reads, turn = reads + len(needed), turn + 1
            if not tracker.pending() or clock.now() - started >= bound:
                break
            waited = clock.now() - started
            quiet.effect_waiting(len(tracker.pending()), len(tracker.changes), waited, bound)
            clock.sleep(min(pause, bound - waited))
            pause = min(pause * 2, MAX_RECHECK)
    except KeyboardInterrupt:  # Ctrl-C while waiting: what was seen so far is still reported
        interrupted = True
    effects = {i: _effect(tracker, i) for i in tracker.changes}
    notes = {i: tracker.why_not(i) for i, effect in effects.items() if effect is not Effect.IN_EFFECT}
    verification = Verification(bound, waited=clock.now() - started, reads=reads)
    checked = _with_effects(result, effects, notes, verification)
    return dataclasses.replace(checked, interrupted=True) if interrupted else checked


def _effect(tracker: EffectTracker, index: int) -> Effect:
    if tracker.in_effect(index):
        return Effect.IN_EFFECT
    return Effect.UNREADABLE if tracker.unreadable(index) else Effect.NOT_IN_EFFECT


def _with_effects(
    result: ApplyResult, effects: dict[int, Effect], notes: dict[int, str], verification: Verification
) -> ApplyResult:
    results = tuple(
        dataclasses.replace(r, effect=effects.get(i), effect_note=notes.get(i))
        for i, r in enumerate(result.results)
    )
    return dataclasses.replace(result, results=results, verification=verification)


__all__ = [
    "DEFAULT_EFFECT_WAIT",
    "ApplyReporter",
    "WaitClock",
    "ApplyResult",
    "ChangeResult",
    "ChangeStatus",
    "Reporter",
    "apply_plan",
    "stages",
    "verify_effect",
]
