"""`hsmsync matrix` on the Contoso example: CSV and Markdown, with and without live state."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.conftest import run_cli


def test_csv_before_and_after_the_plan(contoso: Path) -> None:
    r = run_cli("matrix", "--state", "live-as-tutorial.json", "--format", "csv", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    changes = {(row["principal"], row["place"], row["ability"]): row["change"] for row in rows}
    assert changes[("app-vm", "/", "use keys")] == "gained"
    assert changes[("security-team", "/", "assign roles")] == "kept"
    assert changes[("storage", "/keys/app-signing", "use keys")] == "kept"
    assert {row["change"] for row in rows} == {"gained", "kept", "reachable"}
    # an Administrator holds roleAssignments/write: it can obtain key use, not held
    assert changes[("security-team", "/", "use keys")] == "reachable"
    storage = next(row for row in rows if row["principal"] == "storage")
    assert storage["before"] == storage["after"] == "use keys (wrap, unwrap)"


def test_markdown_from_the_manifest_alone(contoso: Path) -> None:
    r = run_cli("matrix", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("## Access matrix\n\nLegend: ● held, ◌ not held, within reach: ")
    assert "| app-vm (ServicePrincipal) |" in r.stdout and "| pipeline (ServicePrincipal) |" in r.stdout
    assert "**+**" not in r.stdout  # nothing is compared without live state


def test_an_unknown_format_is_a_usage_error(contoso: Path) -> None:
    r = run_cli("matrix", "--format", "pdf", cwd=contoso)
    assert r.exit_code == 1 and "invalid choice: 'pdf'" in r.stderr


ALICE, BOB = "Alice (on-call engineer)", "Bob (security, just in time)"


def _cells(contoso: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    r = run_cli("matrix", "--state", "live-with-groups.json", "--format", "csv", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    return {
        (row["principal"], row["place"], row["ability"]): row for row in csv.DictReader(io.StringIO(r.stdout))
    }


def test_a_group_member_holds_through_the_group_with_the_path(contoso: Path) -> None:
    """Alice is in On-call, which is in the Security Team that holds Administrator."""
    alice = _cells(contoso)[(ALICE, "/", "assign roles")]
    assert (alice["change"], alice["markers"]) == ("kept", "via group Contoso Security Team")
    assert alice["how"] == (
        "Managed HSM Administrator at / (live assignment 23807fe6-d465-57fd-a315-402367541182), "
        "through group Contoso HSM On-call [member] -> group Contoso Security Team [member]"
    )


def test_a_pim_eligible_member_can_once_activated_not_holds(contoso: Path) -> None:
    cells = _cells(contoso)
    bob = cells[(BOB, "/", "manage the security domain")]
    assert bob["change"] == "reachable" and bob["before"] == bob["after"]
    assert bob["after"].startswith("within reach: manage the security domain")
    assert bob["markers"] == "eligible (once activated) via group Contoso Security Team"
    # what the Administrator role does not hold, Bob can obtain once he activates it
    assert cells[(BOB, "/keys/app-signing", "use keys")]["markers"] == "can obtain once activated"


def test_an_escalation_holder_can_obtain_key_use(contoso: Path) -> None:
    cells = _cells(contoso)
    for who in ("pipeline", ALICE):
        cell = cells[(who, "/keys/app-signing", "export or release keys")]
        assert (cell["change"], cell["markers"]) == ("reachable", "can obtain")
        assert "holds roleAssignments/write" in cell["how"]
    assert (ALICE, "/", "use keys") in cells


def test_group_membership_azure_ignores_makes_no_row(contoso: Path) -> None:
    """The security CI runner (a service principal) is in the Security Team: the HSM data plane
    does not honour it; Carol's auditors group reads only."""
    principals = {who for who, _, _ in _cells(contoso)}
    assert "security CI runner" not in principals and "Carol (auditor)" not in principals
    assert {ALICE, BOB, "Contoso HSM On-call", "security-team"} <= principals


def test_html_and_markdown_show_the_markers(contoso: Path) -> None:
    html = run_cli("matrix", "--state", "live-with-groups.json", "--format", "html", cwd=contoso)
    assert "<small>eligible (once activated) via group Contoso Security Team</small>" in html.stdout
    assert 'data-change="reachable"' in html.stdout
    md = run_cli("matrix", "--state", "live-with-groups.json", "--format", "markdown", cwd=contoso)
    assert (
        "| ● via group Contoso Security Team |" in md.stdout
        and "| ◌ can obtain once activated |" in md.stdout
    )
