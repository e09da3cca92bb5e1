"""The outcome of applying a plan, change by change: values the applier returns and renderers show."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hsmsync.core.plan import Change


class Outcome(StrEnum):
    """What applying one change did, as a backend (or the state editor) reports it."""

    DONE = "done"
    ALREADY_DONE = "already_done"  # e.g. the assignment existed, or the delete found nothing


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


# The error of a change that was in flight when Ctrl-C stopped the apply.
INTERRUPTED_IN_FLIGHT = "interrupted while in flight: it may or may not have taken effect (plan again to see)"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Every change's result, in plan order. `interrupted`: Ctrl-C stopped the apply.
    `unexpected`: the traceback of an unexpected error (a bug) that failed a change, for --debug."""

    results: tuple[ChangeResult, ...]
    interrupted: bool = False
    unexpected: str | None = None

    @property
    def ok(self) -> bool:
        return all(r.status in (ChangeStatus.APPLIED, ChangeStatus.ALREADY_DONE) for r in self.results)

    def count(self, status: ChangeStatus) -> int:
        return sum(1 for r in self.results if r.status is status)
