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
import threading
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from hsmsync.backends.base import ChangeApplier, Outcome
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.plan import PHASES, Change, Plan
from hsmsync.core.results import INTERRUPTED_IN_FLIGHT, ApplyResult, ChangeResult, ChangeStatus
from hsmsync.core.target import Target
from hsmsync.core.vault_permissions import permission_model_refusal, switches_permission_model


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


__all__ = [
    "ApplyReporter",
    "ApplyResult",
    "ChangeResult",
    "ChangeStatus",
    "Reporter",
    "apply_plan",
    "stages",
]
