"""Lint findings as SARIF 2.1.0, the format code-scanning services (e.g. GitHub) annotate PRs from.

Suppressed findings are kept as results with a `suppressions` entry, so the reviewer still sees
them and their justification; they are in-source because the manifest itself declares them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hsmsync import __version__
from hsmsync.core.lint import RULES, Finding, LintReport
from hsmsync.core.lint_findings import Loc, Rule

LineOf = Callable[[Loc], int]
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.name.replace("-", " ")},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": f"{rule.rationale}\nFix: {rule.fix}"},
        "defaultConfiguration": {"level": rule.severity.value},
    }


def _result(f: Finding, uri: str, line_of: LineOf, index: dict[str, int]) -> dict[str, Any]:
    return {
        "ruleId": f.rule_id,
        "ruleIndex": index[f.rule_id],
        "level": f.severity.value,
        "message": {"text": f"{f.message}. Fix: {f.fix}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": max(1, line_of(f.location_path))},
                }
            }
        ],
        "properties": {"target": f.target},
    }


def render_sarif(report: LintReport, path: str, line_of: LineOf) -> str:
    """`path` is the manifest as the user named it; SARIF wants a URI, so slashes go forward."""
    uri = path.replace("\\", "/")
    rules = sorted(RULES.values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(rules)}
    results = [_result(f, uri, line_of, index) for f in report.findings]
    for s in report.suppressed:
        result = _result(s.finding, uri, line_of, index)
        result["suppressions"] = [{"kind": "inSource", "justification": s.justification}]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "hsmsync",
                        "version": __version__,
                        "rules": [_rule(r) for r in rules],
                    }
                },
                "artifacts": [{"location": {"uri": uri}}],
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
