"""Lint as a whole: the Contoso acceptance case, suppressions, live state, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hsmsync.core.lint import Severity, lint
from hsmsync.core.state import DataRoleAssignment, LiveState
from hsmsync.manifest import LoadedManifest, load_manifest
from tests.review.builders import build, data, pid

CONTOSO = Path(__file__).resolve().parents[2] / "examples" / "contoso"


@pytest.fixture(scope="module")
def contoso() -> LoadedManifest:
    return load_manifest(CONTOSO / "hsmsync.yaml")


def test_contoso_only_recommends_per_key_scopes_for_the_application_identities(
    contoso: LoadedManifest,
) -> None:
    report = lint(contoso.manifest, contoso.desired)
    assert [(f.rule_id, f.target) for f in report.findings] == [
        ("HSM003", "app-vm"),
        ("HSM003", "storage"),
        ("HSM012", "contoso-kv"),  # still on access policies: the 27 February 2027 deadline
    ]
    assert "Crypto User at /" in report.findings[0].message
    assert "Crypto Service Encryption User at /" in report.findings[1].message
    assert report.exit_code == 0


def test_contoso_findings_point_at_the_team_entries(contoso: LoadedManifest) -> None:
    lines = [
        contoso.positions.line_of(f.location_path) for f in lint(contoso.manifest, contoso.desired).findings
    ]
    text = (CONTOSO / "hsmsync.yaml").read_text().splitlines()
    assert [text[n - 1].strip() for n in lines] == [
        "- {hsm: contoso, role: Crypto User, scope: /}",
        "- {hsm: contoso, role: Crypto Service Encryption User, scope: /}",
        "url: https://contosokeyvault.vault.azure.net",  # HSM012: the vault is on access policies
    ]


def test_contoso_against_the_tutorial_state_adds_nothing(contoso: LoadedManifest) -> None:
    live = LiveState.model_validate(json.loads((CONTOSO / "live-as-tutorial.json").read_text()))
    report = lint(contoso.manifest, contoso.desired, live)
    assert [(f.rule_id, f.target) for f in report.findings] == [
        ("HSM003", "app-vm"),
        ("HSM003", "storage"),
        ("HSM012", "contoso-kv"),  # still on access policies: the 27 February 2027 deadline
    ]


def test_live_access_that_apply_keeps_is_linted_too() -> None:
    manifest, desired = build({"admins": "Group"}, {"sec": (["admins"], [data("Administrator")])})
    unmanaged = DataRoleAssignment(
        name="00000000-0000-0000-0000-000000000001",
        scope="/",
        role_definition_id="21dbd100-6940-42c2-9190-5d6cb909625b",  # Crypto User, not in the manifest
        principal_id=pid("admins"),
    )
    hsm = {"url": desired.hsms["h1"].url, "role_assignments": [unmanaged.model_dump()]}
    live = LiveState.model_validate({"hsms": {"h1": hsm}})  # prune is off: apply keeps it
    report = lint(manifest, desired, live)
    hit = next(f for f in report.findings if f.rule_id == "HSM001")
    assert "live, not in the manifest" in hit.message and report.exit_code == 1


class TestSuppression:
    ADMIN_AND_USE = {"ops": (["ops"], [data("Administrator"), data("Crypto User", "/keys/k")])}

    def test_an_error_suppressed_for_its_target_no_longer_fails(self) -> None:
        why = "break-glass group, reviewed quarterly"
        m, d = build(
            {"ops": "Group"},
            self.ADMIN_AND_USE,
            suppress=[{"rule": "HSM001", "target": "ops", "justification": why}],
        )
        report = lint(m, d)
        assert report.exit_code == 0 and not any(f.rule_id == "HSM001" for f in report.findings)
        assert [(s.finding.rule_id, s.justification) for s in report.suppressed] == [("HSM001", why)]

    def test_star_suppresses_a_rule_for_every_target(self) -> None:
        suppress = [{"rule": "HSM003", "target": "*", "justification": "legacy apps, migrating in Q3"}]
        m, d = build(
            {"a": "ServicePrincipal", "b": "ServicePrincipal"},
            {"t": (["a", "b"], [data("Crypto User")])},
            suppress=suppress,
        )
        report = lint(m, d)
        assert report.findings == () and len(report.suppressed) == 2

    def test_a_suppression_matching_nothing_is_a_note(self) -> None:
        suppress = [{"rule": "HSM001", "target": "nobody", "justification": "left over from a rename"}]
        m, d = build({"ops": "Group"}, {}, suppress=suppress)
        [note] = lint(m, d).findings
        assert (note.rule_id, note.severity, note.location_path) == (
            "HSM000",
            Severity.NOTE,
            ("lint", "suppress", 0),
        )

    def test_a_suppression_for_another_target_does_not_apply(self) -> None:
        suppress = [{"rule": "HSM001", "target": "someone-else", "justification": "reviewed and accepted"}]
        m, d = build({"ops": "Group"}, self.ADMIN_AND_USE, suppress=suppress)
        report = lint(m, d)
        assert report.exit_code == 1 and report.suppressed == ()
