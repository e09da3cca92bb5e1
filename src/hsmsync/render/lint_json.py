"""Lint findings as JSON for scripts: every finding with its rule, field path and line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from hsmsync.core.errors import Problem
from hsmsync.core.lint import RULES, Finding, LintReport
from hsmsync.core.lint_findings import Loc
from hsmsync.render.contract import document

LineOf = Callable[[Loc], int]
FileOf = Callable[[Loc], str | None]


def finding_dict(f: Finding, line_of: LineOf | None = None, file_of: FileOf | None = None) -> dict[str, Any]:
    """One finding as an object (with its manifest line when the manifest is at hand)."""
    out: dict[str, Any] = {
        "rule": f.rule_id,
        "name": RULES[f.rule_id].name,
        "severity": f.severity.value,
        "target": f.target,
        "message": f.message,
        "fix": f.fix,
        "field": Problem(f.location_path, "").field,
    }
    if line_of is not None:
        out["line"] = line_of(f.location_path)
    file = file_of(f.location_path) if file_of is not None else None
    if file is not None:  # a manifest of several files (`-f DIR`)
        out["file"] = file
    return out


_finding = finding_dict


def lint_summary(findings: Sequence[Finding], suppressed: int) -> dict[str, int]:
    counts = Counter(f.severity.value for f in findings)
    return {
        "error": counts["error"],
        "warning": counts["warning"],
        "note": counts["note"],
        "suppressed": suppressed,
    }


def render_lint(report: LintReport, path: str, line_of: LineOf, file_of: FileOf | None = None) -> str:
    body = {
        "version": 1,
        "file": path,
        "exit_code": report.exit_code,
        "summary": lint_summary(report.findings, len(report.suppressed)),
        "findings": [_finding(f, line_of, file_of) for f in report.findings],
        "suppressed": [
            {**_finding(s.finding, line_of, file_of), "justification": s.justification}
            for s in report.suppressed
        ],
    }
    return document("lint", body)
