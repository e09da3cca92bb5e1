"""The outcome of applying a plan, change by change: values the applier returns and renderers show."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hsmsync.core.plan import Change


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
