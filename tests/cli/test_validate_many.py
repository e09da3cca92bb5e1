"""`validate` checks several manifests in one run (as a pre-commit hook passes them), each reported."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import CONTOSO, run_cli

BROKEN = "version: 1\nprincipals:\n  ops: {type: Group, id: not-a-guid}\n"


def _two_good_one_bad(tmp_path: Path) -> None:
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "a.yaml")
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "b.yaml")
    (tmp_path / "bad.yaml").write_text(BROKEN)


def test_every_file_is_reported_and_one_invalid_file_fails_the_run(tmp_path: Path):
    _two_good_one_bad(tmp_path)
    result = run_cli("validate", "a.yaml", "bad.yaml", "b.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "a.yaml: valid (7 principals" in result.stdout
    assert "b.yaml: valid (7 principals" in result.stdout
    assert "bad.yaml:3: principals.ops.id" in result.stderr
    assert "Traceback" not in result.stderr


def test_all_valid_files_exit_0(tmp_path: Path):
    _two_good_one_bad(tmp_path)
    result = run_cli("validate", "a.yaml", "b.yaml", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count(": valid (") == 2


def test_a_missing_file_among_several_is_named_and_the_others_still_checked(tmp_path: Path):
    _two_good_one_bad(tmp_path)
    result = run_cli("validate", "gone.yaml", "a.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "gone.yaml: manifest not found" in result.stderr
    assert "a.yaml: valid" in result.stdout


def test_dash_f_still_works_and_combines_with_positional_files(tmp_path: Path):
    _two_good_one_bad(tmp_path)
    only_f = run_cli("validate", "-f", "a.yaml", cwd=tmp_path)
    assert only_f.exit_code == 0 and "a.yaml: valid" in only_f.stdout
    both = run_cli("validate", "-f", "a.yaml", "bad.yaml", cwd=tmp_path)
    assert both.exit_code == 1
    assert "a.yaml: valid" in both.stdout and "bad.yaml:3:" in both.stderr
