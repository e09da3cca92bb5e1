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


class Effect(StrEnum):
    """Whether an applied change was seen in effect when hsmsync read it back (`core/effect.py`)."""

    IN_EFFECT = "in_effect"
    NOT_IN_EFFECT = "not_in_effect"  # not seen in every region before the wait ran out
    NOT_CHECKED = "not_checked"  # apply --no-wait
    UNREADABLE = "unreadable"  # every region denies the applier the read that would show it


@dataclass(frozen=True, slots=True)
class ChangeResult:
    change: Change
    status: ChangeStatus
    error: str | None = None
    effect: Effect | None = None  # None: a change hsmsync does not read back (or one not applied)
    effect_note: str | None = None  # why it is not in effect


@dataclass(frozen=True, slots=True)
class Verification:
    """How the apply read its changes back: for how long it waited, and its bound (None: --no-wait)."""

    bound: float | None
    waited: float = 0.0
    reads: int = 0


# The error of a change that was in flight when Ctrl-C stopped the apply.
INTERRUPTED_IN_FLIGHT = "interrupted while in flight: it may or may not have taken effect (plan again to see)"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Every change's result, in plan order. `interrupted`: Ctrl-C stopped the apply.
    `unexpected`: the traceback of an unexpected error (a bug) that failed a change, for --debug."""

    results: tuple[ChangeResult, ...]
    interrupted: bool = False
    unexpected: str | None = None
    verification: Verification | None = None  # None: nothing was read back (no wait asked, or none to do)

    @property
    def ok(self) -> bool:
        return all(r.status in (ChangeStatus.APPLIED, ChangeStatus.ALREADY_DONE) for r in self.results)

    def count(self, status: ChangeStatus) -> int:
        return sum(1 for r in self.results if r.status is status)

    def count_effect(self, effect: Effect) -> int:
        return sum(1 for r in self.results if r.effect is effect)

    @property
    def in_effect(self) -> bool:
        """No change that was read back is missing (changes not read back do not count)."""
        return self.count_effect(Effect.NOT_IN_EFFECT) == 0
