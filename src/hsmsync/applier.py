"""The applier: executes a plan's changes in order through a backend, stopping at the first error."""

from __future__ import annotations

from hsmsync.backends.base import Outcome, StateBackend
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.plan import Change, Plan
from hsmsync.core.results import ApplyResult, ChangeResult, ChangeStatus


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


__all__ = ["ApplyResult", "ChangeResult", "ChangeStatus", "Reporter", "apply_plan"]
