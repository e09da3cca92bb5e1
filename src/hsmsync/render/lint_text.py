"""Lint findings as `file:line: severity RULE name: message` lines, with the fix beneath (names
made `visible`: one finding, one line)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from hsmsync.core.lint import RULES, LintReport
from hsmsync.core.lint_findings import Loc
from hsmsync.render.escape import visible as v

LineOf = Callable[[Loc], int]
FileOf = Callable[[Loc], str | None]  # the file a location is in, for a manifest of several files


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_lint(report: LintReport, path: str, line_of: LineOf, file_of: FileOf | None = None) -> str:
    def where_of(loc: Loc) -> str:
        return f"{v((file_of and file_of(loc)) or path)}:{line_of(loc)}"

    out: list[str] = []
    for f in report.findings:
        rule = RULES[f.rule_id]
        where = where_of(f.location_path)
        out.append(f"{where}: {f.severity.value} {f.rule_id} {rule.name}: {v(f.message)}")
        out.append(f"    fix: {v(f.fix)}")
    for s in report.suppressed:
        f = s.finding
        out.append(
            f"{where_of(f.location_path)}: suppressed {f.rule_id} for '{v(f.target)}': {v(s.justification)}"
        )
    counts = Counter(f.severity.value for f in report.findings)
    summary = ", ".join(_plural(counts[level], level) for level in ("error", "warning", "note"))
    if report.suppressed:
        summary += f" ({len(report.suppressed)} suppressed)"
    out.append(summary if report.findings or report.suppressed else "No findings.")
    return "\n".join(out) + "\n"
