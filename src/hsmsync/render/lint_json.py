"""Lint findings as JSON for scripts: every finding with its rule, field path and line."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from hsmsync.core.errors import Problem
from hsmsync.core.lint import RULES, Finding, LintReport
from hsmsync.core.lint_findings import Loc

LineOf = Callable[[Loc], int]


def _finding(f: Finding, line_of: LineOf) -> dict[str, Any]:
    return {
        "rule": f.rule_id,
        "name": RULES[f.rule_id].name,
        "severity": f.severity.value,
        "target": f.target,
        "message": f.message,
        "fix": f.fix,
        "field": Problem(f.location_path, "").field,
        "line": line_of(f.location_path),
    }


def render_lint(report: LintReport, path: str, line_of: LineOf) -> str:
    counts = Counter(f.severity.value for f in report.findings)
    data = {
        "version": 1,
        "file": path,
        "exit_code": report.exit_code,
        "summary": {
            "error": counts["error"],
            "warning": counts["warning"],
            "note": counts["note"],
            "suppressed": len(report.suppressed),
        },
        "findings": [_finding(f, line_of) for f in report.findings],
        "suppressed": [
            {**_finding(s.finding, line_of), "justification": s.justification} for s in report.suppressed
        ],
    }
    return json.dumps(data, indent=2) + "\n"
