"""What a reviewer reads about a plan: the changes, who gains or loses what, and lint findings."""

from __future__ import annotations

from dataclasses import dataclass

from hsmsync.core.access_delta import AccessDelta, AccessGroup
from hsmsync.core.lint import LintReport
from hsmsync.core.lint_findings import Finding
from hsmsync.core.matrix import AccessMatrix
from hsmsync.core.plan import Plan


@dataclass(frozen=True, slots=True)
class PlanReview:
    plan: Plan
    access: AccessDelta | None = None
    lint: LintReport | None = None
    matrix: AccessMatrix | None = None  # principals x places x abilities, before -> after

    def lint_findings(self) -> list[Finding]:
        return sorted(self.lint.findings, key=lambda f: f.sort_key) if self.lint is not None else []

    def lint_lines(self) -> list[str]:
        return [f"{f.severity.value} {f.rule_id}: {f.message}" for f in self.lint_findings()]

    def access_groups(self) -> tuple[AccessGroup, ...]:
        """Who gains or loses what, grouped principal x ability x places (see AccessDelta.grouped)."""
        return self.access.grouped() if self.access is not None else ()

    def access_sentences(self) -> list[str]:
        return [g.sentence() for g in self.access_groups()]
