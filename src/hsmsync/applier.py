"""The applier: executes a plan's changes through a backend, stopping at the first error.

With `workers > 1`, changes are grouped into lanes by the resource they land on (`change.target`:
one HSM — its data plane and its settings —, one vault, or ARM) and lanes run concurrently while
each lane keeps plan order. Make before break therefore still holds per resource: an HSM's
creates precede its deletes, a custom ARM role precedes the ARM assignments that use it. The
plan's last phase (resource settings, e.g. closing public network access) starts only after every
other change is done, as the plan promises. On the first error no new change starts anywhere;
changes already in flight finish and are reported.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from hsmsync.backends.base import Outcome, StateBackend
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.plan import PHASES, Change, Plan
from hsmsync.core.results import ApplyResult, ChangeResult, ChangeStatus


class ApplyReporter(Protocol):
    def change_started(self, change: Change) -> None: ...

    def change_finished(self, result: ChangeResult) -> None: ...


class Reporter:
    """Progress hooks; the default does nothing (the CLI passes one that prints).

    With several workers the hooks are called from worker threads, one call at a time.
    """

    def change_started(self, change: Change) -> None:
        """Called before a change is sent to the backend."""

    def change_finished(self, result: ChangeResult) -> None:
        """Called after each change, whatever its status."""


def backend_workers(backend: object) -> int:
    """How many lanes a backend can serve at once (`workers` attribute; 1 when it has none)."""
    workers = getattr(backend, "workers", 1)
    return workers if isinstance(workers, int) and workers > 0 else 1


def _apply_one(backend: StateBackend, change: Change) -> ChangeResult:
    try:
        outcome = backend.apply_change(change)
    except HsmsyncError as exc:
        return ChangeResult(change, ChangeStatus.FAILED, str(exc))
    status = ChangeStatus.APPLIED if outcome is Outcome.DONE else ChangeStatus.ALREADY_DONE
    return ChangeResult(change, status)


def apply_plan(
    plan: Plan, backend: StateBackend, *, reporter: ApplyReporter | None = None, workers: int = 1
) -> ApplyResult:
    """Apply the plan's changes. Idempotent: what is already so counts as done.

    workers == 1: strictly in plan order. workers > 1: lanes per target, concurrently (see module).
    """
    reporter = reporter or Reporter()
    if workers <= 1:
        return _apply_serial(plan.changes, backend, reporter)
    return _Parallel(plan.changes, backend, reporter, workers).run()


def _apply_serial(changes: Sequence[Change], backend: StateBackend, reporter: ApplyReporter) -> ApplyResult:
    results: list[ChangeResult] = []
    failed = False
    for change in changes:
        if failed:
            results.append(ChangeResult(change, ChangeStatus.NOT_ATTEMPTED))
            continue
        reporter.change_started(change)
        result = _apply_one(backend, change)
        failed = result.status is ChangeStatus.FAILED
        reporter.change_finished(result)
        results.append(result)
    return ApplyResult(tuple(results))


def stages(changes: Sequence[Change]) -> list[list[list[int]]]:
    """Indices of `changes` as stages of lanes: [stage][lane][position], each lane in plan order.

    Stage 1 holds everything but the plan's last phase; stage 2 that phase (settings), so it
    starts only when all else is done. Lanes are keyed by `change.target`.
    """
    last = max(PHASES.values())
    out: list[list[list[int]]] = []
    for final in (False, True):
        lanes: dict[str, list[int]] = {}
        for i, change in enumerate(changes):
            if (change.phase >= last) is final:
                lanes.setdefault(change.target, []).append(i)
        if lanes:
            out.append(list(lanes.values()))
    return out


class _Parallel:
    def __init__(
        self, changes: Sequence[Change], backend: StateBackend, reporter: ApplyReporter, workers: int
    ) -> None:
        self.changes = changes
        self.backend = backend
        self.reporter = reporter
        self.workers = workers
        self.results: list[ChangeResult | None] = [None] * len(changes)
        self.stop = threading.Event()
        self.unexpected: BaseException | None = None
        self._report_lock = threading.Lock()

    def _started(self, change: Change) -> None:
        with self._report_lock:
            self.reporter.change_started(change)

    def _finished(self, result: ChangeResult) -> None:
        with self._report_lock:
            self.reporter.change_finished(result)

    def _run_lane(self, lane: list[int]) -> None:
        for i in lane:
            if self.stop.is_set():
                return
            change = self.changes[i]
            self._started(change)
            try:
                result = _apply_one(self.backend, change)
            except BaseException as exc:  # an unexpected error: stop everything, re-raised by run()
                self.stop.set()
                self.unexpected = self.unexpected or exc
                return
            self.results[i] = result
            if result.status is ChangeStatus.FAILED:
                self.stop.set()
            self._finished(result)

    def run(self) -> ApplyResult:
        for lanes in stages(self.changes):
            if self.stop.is_set():
                break
            # Longest lanes first: they bound the wall time.
            ordered = sorted(lanes, key=len, reverse=True)
            pool = ThreadPoolExecutor(min(self.workers, len(ordered)), thread_name_prefix="hsmsync-apply")
            try:
                futures = [pool.submit(self._run_lane, lane) for lane in ordered]
                for future in futures:
                    future.result()
            except BaseException:  # KeyboardInterrupt in the main thread: let in-flight calls end
                self.stop.set()
                raise
            finally:
                pool.shutdown(wait=True)
        if self.unexpected is not None:
            raise self.unexpected
        return ApplyResult(
            tuple(
                r if r is not None else ChangeResult(c, ChangeStatus.NOT_ATTEMPTED)
                for c, r in zip(self.changes, self.results, strict=True)
            )
        )


__all__ = [
    "ApplyReporter",
    "ApplyResult",
    "ChangeResult",
    "ChangeStatus",
    "Reporter",
    "apply_plan",
    "backend_workers",
    "stages",
]
