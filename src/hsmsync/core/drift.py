"""Drift: does reality still match git? A plan seen as a report, with a policy for what fails."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hsmsync.core.plan import Plan


class FailOn(StrEnum):
    DRIFT = "drift"  # live differs from what the manifest declares (apply would change something)
    UNMANAGED = "unmanaged"  # live holds assignments the manifest does not declare (prune: false)
    ANY = "any"


@dataclass(frozen=True, slots=True)
class DriftReport:
    plan: Plan
    fail_on: FailOn

    @property
    def drifted(self) -> bool:
        return not self.plan.is_empty

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
                "drifted": len(self.plan.changes),
                "unmanaged": len(self.plan.unmanaged),
            },
            "drifted": plan["changes"],
            "unmanaged": plan["unmanaged"],
        }
