"""Drift: does reality still match git? A plan seen as a report, with a policy for what fails."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hsmsync.core.desired import assignment_key
from hsmsync.core.lint_findings import Finding, Severity
from hsmsync.core.plan import Plan, UnmanagedItem


class FailOn(StrEnum):
    DRIFT = "drift"  # live differs from what the manifest declares (apply would change something)
    UNMANAGED = "unmanaged"  # live holds assignments the manifest does not declare (prune: false)
    ANY = "any"


@dataclass(frozen=True, slots=True)
class FlaggedUnmanaged:
    """An unmanaged live assignment that a lint error is about: drift, though no change removes it."""

    item: UnmanagedItem
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.item.to_dict(),
            "lint": [{"rule": f.rule_id, "message": f.message} for f in self.findings],
        }


def flag_unmanaged(plan: Plan, findings: Iterable[Finding]) -> tuple[FlaggedUnmanaged, ...]:
    """The plan's unmanaged items that an unsuppressed lint error is about."""
    errors = [f for f in findings if f.severity is Severity.ERROR and f.about]
    out = []
    for u in plan.unmanaged:
        key = assignment_key(u.plane, u.target.key, u.scope, u.role_id, u.principal_id)
        hits = tuple(f for f in errors if key in f.about)
        if hits:
            out.append(FlaggedUnmanaged(u, hits))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class DriftReport:
    plan: Plan
    fail_on: FailOn
    # Unmanaged access that lint rates an error (e.g. an out-of-band Owner over a declared vault)
    # is drift by default: reality moved away from git in a way the baseline forbids.
    flagged: tuple[FlaggedUnmanaged, ...] = ()

    @property
    def drifted(self) -> bool:
        return not self.plan.is_empty or bool(self.flagged)

    @property
    def has_unmanaged(self) -> bool:
        return bool(self.plan.unmanaged)

    @property
    def failed(self) -> bool:
        if self.fail_on is FailOn.DRIFT:
            return self.drifted
        if self.fail_on is FailOn.UNMANAGED:
            return self.has_unmanaged
        return self.drifted or self.has_unmanaged

    def to_dict(self) -> dict[str, Any]:
        plan = self.plan.to_dict()
        return {
            "version": 1,
            "in_sync": not self.drifted,
            "failed": self.failed,
            "fail_on": self.fail_on.value,
            "live_fingerprint": self.plan.live_fingerprint,
            "summary": {
                "drifted": len(self.plan.changes) + len(self.flagged),
                "unmanaged": len(self.plan.unmanaged),
                "unmanaged_lint_errors": len(self.flagged),
            },
            # what could not be read (e.g. Graph's group members): the report may show less access
            "warnings": plan["warnings"],
            "drifted": plan["changes"],
            "unmanaged_lint_errors": [f.to_dict() for f in self.flagged],
            "unmanaged": plan["unmanaged"],
        }
