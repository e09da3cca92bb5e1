"""Lint findings as SARIF 2.1.0, the format code-scanning services (e.g. GitHub) annotate PRs from.

Suppressed findings are kept as results with a `suppressions` entry, so the reviewer still sees
them and their justification; they are in-source because the manifest itself declares them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from hsmsync import __version__
from hsmsync.core.lint import RULES, Finding, LintReport
from hsmsync.core.lint_findings import Loc, Rule, Severity

LineOf = Callable[[Loc], int]
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# The Managed HSM security baseline the rules come from.
HELP_URI = "https://learn.microsoft.com/azure/key-vault/managed-hsm/secure-your-managed-hsm"
# GitHub code scanning ranks alerts by this CVSS-like score: error is high, warning medium, note low.
SECURITY_SEVERITY = {"error": "8.0", "warning": "5.0", "note": "2.0"}
INVALID_MANIFEST = Rule(
    "HSM-INVALID",
    "invalid-manifest",
    Severity.ERROR,
    "hsmsync reads only a valid manifest.",
    "Correct the field the message names.",
)


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.name.replace("-", " ")},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": f"{rule.rationale}\nFix: {rule.fix}"},
        "helpUri": HELP_URI,
        "defaultConfiguration": {"level": rule.severity.value},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity.value],
            "tags": ["security", "managed-hsm", "access-control"],
        },
    }


def fingerprint(*parts: str) -> str:
    """Stable across runs and edits elsewhere in the file: what was found about what, not where."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _location(uri: str, line: int) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
            "region": {"startLine": max(1, line)},
        }
    }


def _result(f: Finding, uri: str, line_of: LineOf, index: dict[str, int]) -> dict[str, Any]:
    return {
        "ruleId": f.rule_id,
        "ruleIndex": index[f.rule_id],
        "level": f.severity.value,
        "message": {"text": f"{f.message}. Fix: {f.fix}"},
        "locations": [_location(uri, line_of(f.location_path))],
        "partialFingerprints": {"hsmsync/v1": fingerprint(f.rule_id, f.target, f.message)},
        "properties": {"target": f.target},
    }


def _log(uris: Sequence[str], root_uri: str, rules: list[Rule], results: list[dict[str, Any]]) -> str:
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "hsmsync", "version": __version__, "rules": [_rule(r) for r in rules]}},
        "artifacts": [{"location": {"uri": uri, "uriBaseId": "SRCROOT"}} for uri in uris],
        "results": results,
    }
    if root_uri:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": root_uri}}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"


def render_sarif(
    report: LintReport,
    path: str,
    line_of: LineOf,
    root_uri: str = "",
    file_of: Callable[[Loc], str | None] | None = None,
) -> str:
    """`path` is the manifest relative to the repository root (`root_uri`, a file: URI ending in
    '/'); SARIF wants a URI, so slashes go forward. `file_of`: for a manifest of several files,
    the file (relative to the root) each location is in."""

    def uri_of(f: Finding) -> str:
        return ((file_of and file_of(f.location_path)) or path).replace("\\", "/")

    rules = sorted(RULES.values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(rules)}
    results = [_result(f, uri_of(f), line_of, index) for f in report.findings]
    for s in report.suppressed:
        result = _result(s.finding, uri_of(s.finding), line_of, index)
        result["suppressions"] = [{"kind": "inSource", "justification": s.justification}]
        results.append(result)
    uris = sorted({uri_of(f) for f in [*report.findings, *(s.finding for s in report.suppressed)]})
    return _log(uris or [path.replace("\\", "/")], root_uri, rules, results)


def render_invalid(errors: Sequence[tuple[str, int, str]], root_uri: str = "") -> str:
    """Manifest validation errors `(path, line, message)` as results of rule HSM-INVALID."""
    results = [
        {
            "ruleId": INVALID_MANIFEST.id,
            "ruleIndex": 0,
            "level": "error",
            "message": {"text": message},
            "locations": [_location(path.replace("\\", "/"), line)],
            "partialFingerprints": {"hsmsync/v1": fingerprint(INVALID_MANIFEST.id, path, message)},
        }
        for path, line, message in errors
    ]
    uris = sorted({path.replace("\\", "/") for path, _, _ in errors}) or [""]
    return _log(uris, root_uri, [INVALID_MANIFEST], results)
