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
    assert {row["change"] for row in rows} == {"gained", "kept"}
    storage = next(row for row in rows if row["principal"] == "storage")
    assert storage["before"] == storage["after"] == "use keys (wrap, unwrap)"


def test_markdown_from_the_manifest_alone(contoso: Path) -> None:
    r = run_cli("matrix", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("## Access matrix\n\nLegend: ● held.\n")
    assert "| app-vm (ServicePrincipal) |" in r.stdout and "| pipeline (ServicePrincipal) |" in r.stdout
    assert "**+**" not in r.stdout  # nothing is compared without live state


def test_an_unknown_format_is_a_usage_error(contoso: Path) -> None:
    r = run_cli("matrix", "--format", "pdf", cwd=contoso)
    assert r.exit_code == 1 and "invalid choice: 'pdf'" in r.stderr
