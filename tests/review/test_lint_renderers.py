"""Lint renderers: SARIF validates against the OASIS schema; text and JSON carry file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hsmsync.core.lint import LintReport, lint
from hsmsync.render import lint_json, lint_text, sarif
from tests.review.builders import build, data

# The OASIS SARIF 2.1.0 schema, copied into the fixtures (provenance: tests/fixtures/schemas/README.md).
SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"


def line_of(loc: tuple[str | int, ...]) -> int:
    return 10 + len(loc)  # a stand-in for the manifest's positions


@pytest.fixture(scope="module")
def report() -> LintReport:
    suppress = [{"rule": "HSM002", "target": "alice", "justification": "sole admin until the group exists"}]
    m, d = build(
        {"alice": "User", "app": "ServicePrincipal"},
        {
            "ops": (["alice"], [data("Administrator"), data("Crypto User", "/keys/k")]),
            "app": (["app"], [data("Crypto User")]),
        },
        suppress=suppress,
    )
    return lint(m, d)


def test_sarif_is_valid_sarif_2_1_0(report: LintReport) -> None:
    import jsonschema

    log = json.loads(sarif.render_sarif(report, "deploy/hsmsync.yaml", line_of))
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))


def test_sarif_results_rules_and_suppressions(report: LintReport) -> None:
    run = json.loads(sarif.render_sarif(report, "deploy\\hsmsync.yaml", line_of))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "hsmsync"
    assert {r["id"] for r in rules} >= {"HSM001", "HSM002", "HSM003", "HSM004", "HSM010"}
    assert all(r["defaultConfiguration"]["level"] in ("error", "warning", "note") for r in rules)
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["HSM001"]["level"] == "error"
    location = by_rule["HSM001"]["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "deploy/hsmsync.yaml", "uriBaseId": "SRCROOT"},
        "region": {"startLine": 14},
    }
    assert rules[by_rule["HSM003"]["ruleIndex"]]["id"] == "HSM003"
    assert by_rule["HSM002"]["suppressions"] == [
        {"kind": "inSource", "justification": "sole admin until the group exists"}
    ]
    assert "suppressions" not in by_rule["HSM001"]


def test_text_lists_findings_with_file_line_and_fix_then_a_summary(report: LintReport) -> None:
    out = lint_text.render_lint(report, "hsmsync.yaml", line_of)
    assert "hsmsync.yaml:14: error HSM001 separation-of-duties: alice can assign roles" in out
    assert "    fix: Give role management" in out
    assert "suppressed HSM002 for 'alice': sole admin until the group exists" in out
    assert out.endswith("1 error, 1 warning, 0 notes (1 suppressed)\n")


def test_text_says_no_findings_when_clean() -> None:
    assert lint_text.render_lint(LintReport(()), "m.yaml", line_of) == "No findings.\n"


def test_json_carries_field_line_and_exit_code(report: LintReport) -> None:
    doc = json.loads(lint_json.render_lint(report, "hsmsync.yaml", line_of))
    assert doc["exit_code"] == 1 and doc["summary"] == {"error": 1, "warning": 1, "note": 0, "suppressed": 1}
    first = doc["findings"][0]
    assert (first["rule"], first["field"], first["line"]) == ("HSM001", "teams.ops.data[0]", 14)
    assert doc["suppressed"][0]["justification"] == "sole admin until the group exists"
