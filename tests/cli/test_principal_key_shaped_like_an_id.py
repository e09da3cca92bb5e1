"""A principal's key spelt as an object id must be that principal's own id: outputs (plan, whocan,
keys, matrix) show a principal the manifest does not name by its object id, so a key spelt as
another id would read as that other principal (e.g. the HSM's initial administrator)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli

INITIAL_ADMIN = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88"  # live-as-tutorial.json's, not in the manifest
OWN_ID = "11111111-2222-4333-8444-555555555555"


def _declare(contoso: Path, key: str) -> int:
    manifest = contoso / "hsmsync.yaml"
    lines = manifest.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("  pipeline:"))
    lines.insert(at, f"  {key}: {{type: ServicePrincipal, id: {OWN_ID}, name: imposter}}\n")
    manifest.write_text("".join(lines))
    return at + 1


def test_a_key_spelt_as_another_principals_id_is_refused_with_file_and_line(contoso: Path) -> None:
    line = _declare(contoso, INITIAL_ADMIN)
    r = run_cli("validate", cwd=contoso)
    assert r.exit_code == 1, r.stdout
    assert f"hsmsync.yaml:{line}: principals.{INITIAL_ADMIN}:" in r.stderr
    assert f"is an object id but not this principal's ({OWN_ID})" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_key_spelt_as_its_own_id_is_allowed(contoso: Path) -> None:
    _declare(contoso, OWN_ID.upper())
    r = run_cli("validate", cwd=contoso)
    assert r.exit_code == 0, r.stderr
