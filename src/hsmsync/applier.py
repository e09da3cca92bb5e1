"""The applier: executes a plan's changes in order through a backend, stopping at the first error."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hsmsync.backends.base import Outcome, StateBackend
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.plan import Change, Plan


class ChangeStatus(StrEnum):
    APPLIED = "applied"
    ALREADY_DONE = "already_done"
    FAILED = "failed"
    NOT_ATTEMPTED = "not_attempted"


@dataclass(frozen=True, slots=True)
class ChangeResult:
    change: Change
    status: ChangeStatus
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    results: tuple[ChangeResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.status in (ChangeStatus.APPLIED, ChangeStatus.ALREADY_DONE) for r in self.results)

    def count(self, status: ChangeStatus) -> int:
        return sum(1 for r in self.results if r.status is status)


class Reporter:
    """Progress hooks; the default does nothing (the CLI passes one that prints)."""

    def change_started(self, change: Change) -> None:
        """Called before a change is sent to the backend."""

    def change_finished(self, result: ChangeResult) -> None:
        """Called after each change, whatever its status."""


def apply_plan(plan: Plan, backend: StateBackend, *, reporter: Reporter | None = None) -> ApplyResult:
    """Apply changes in plan order. Idempotent: what is already so counts as done."""
    reporter = reporter or Reporter()
    results: list[ChangeResult] = []
    failed = False
    for change in plan.changes:
        if failed:
            results.append(ChangeResult(change, ChangeStatus.NOT_ATTEMPTED))
            continue
        reporter.change_started(change)
        try:
            outcome = backend.apply_change(change)
        except HsmsyncError as exc:
            result = ChangeResult(change, ChangeStatus.FAILED, str(exc))
            failed = True
        else:
            status = ChangeStatus.APPLIED if outcome is Outcome.DONE else ChangeStatus.ALREADY_DONE
            result = ChangeResult(change, status)
        reporter.change_finished(result)
        results.append(result)
    return ApplyResult(tuple(results))
