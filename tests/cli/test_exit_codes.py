"""Exit codes: 2 means "changes" or "drift" and nothing else; a usage error is an error (1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

USAGE_ERRORS = [
    ("plan", "--detailed-exitcode", "--qiet"),
    ("drift", "--fail-on", "drfit"),
    ("plan", "--format", "yml"),
    ("pln",),
    (),
    ("whocan",),
    ("export", "--bogus"),
    ("resolve", "--state"),
    ("emulator",),
    ("apply", "--state", "a.json", "--live"),
]


@pytest.mark.parametrize("argv", USAGE_ERRORS, ids=[" ".join(a) or "(none)" for a in USAGE_ERRORS])
def test_usage_errors_exit_1_with_argparse_message(tmp_path: Path, argv: tuple[str, ...]):
    result = run_cli(*argv, cwd=tmp_path)
    assert result.exit_code == 1
    assert "hsmsync" in result.stderr and "error:" in result.stderr
    assert "usage:" in result.stderr


def test_misspelt_fail_on_names_the_choices(tmp_path: Path):
    result = run_cli("drift", "--fail-on", "drfit", cwd=tmp_path)
    assert result.exit_code == 1
    assert "invalid choice: 'drfit'" in result.stderr


@pytest.mark.parametrize("argv", [("--help",), ("plan", "--help"), ("--version",)])
def test_help_and_version_exit_0(tmp_path: Path, argv: tuple[str, ...]):
    result = run_cli(*argv, cwd=tmp_path)
    assert result.exit_code == 0
    assert result.stdout


def test_changes_still_exit_2_with_detailed_exitcode(contoso: Path):
    result = run_cli("plan", "--state", "state.json", "--detailed-exitcode", "-q", cwd=contoso)
    assert result.exit_code == 2, result.stderr
