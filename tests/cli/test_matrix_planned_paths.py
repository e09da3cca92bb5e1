"""The matrix says how a cell is held: an assignment the plan only creates is not a live one, so
a gained cell reads "planned assignment", a kept one "live assignment" (CSV, and the plan's HTML
review, which holds the same rows)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.conftest import run_cli


def _how(rows: list[dict[str, str]], principal: str, ability: str) -> str:
    return next(
        r["how"] for r in rows if (r["principal"], r["place"], r["ability"]) == (principal, "/", ability)
    )


def test_a_gained_cell_names_a_planned_assignment_and_a_kept_one_a_live_one(contoso: Path) -> None:
    r = run_cli("matrix", "--state", "live-as-tutorial.json", "--format", "csv", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    gained = _how(rows, "app-vm", "use keys")
    assert gained.startswith("Managed HSM Crypto User at / (planned assignment ")
    assert "live assignment" not in gained
    assert _how(rows, "security-team", "assign roles").startswith(
        "Managed HSM Administrator at / (live assignment "
    )


def test_the_plans_html_review_says_planned_for_what_it_creates(contoso: Path) -> None:
    r = run_cli("plan", "--state", "live-as-tutorial.json", "--format", "html", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    assert "Managed HSM Crypto User at / (planned assignment " in r.stdout
    assert "Managed HSM Crypto User at / (live assignment " not in r.stdout
