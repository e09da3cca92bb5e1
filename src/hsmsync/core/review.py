"""What a reviewer reads about a plan: the changes, who gains or loses what, and lint findings."""

from __future__ import annotations

from dataclasses import dataclass

from hsmsync.core.access_delta import AccessDelta
from hsmsync.core.lint import LintReport
from hsmsync.core.plan import Plan


@dataclass(frozen=True, slots=True)
class PlanReview:
    plan: Plan
    access: AccessDelta | None = None
    lint: LintReport | None = None

    def lint_lines(self) -> list[str]:
        if self.lint is None:
            return []
        return [
            f"{f.severity.value} {f.rule_id}: {f.message}"
            for f in sorted(self.lint.findings, key=lambda f: f.sort_key)
        ]

    def access_sentences(self) -> list[str]:
        return self.access.sentences() if self.access is not None else []
