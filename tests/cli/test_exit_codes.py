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


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("plan", "--stat", "state.json"), "unrecognized arguments: --stat"),
        (("apply", "--state", "state.json", "--auto"), "unrecognized arguments: --auto"),
        (("apply", "--state", "state.json", "--auto-app"), "unrecognized arguments: --auto-app"),
        (("--deb", "plan", "--state", "state.json"), "unrecognized arguments: --deb"),
    ],
)
def test_abbreviated_options_are_not_accepted(contoso: Path, argv: tuple[str, ...], says: str):
    # Finding 16: argparse used to read `--auto` as `--auto-approve`.
    before = (contoso / "state.json").read_text()
    result = run_cli(*argv, cwd=contoso)
    assert result.exit_code == 1
    assert says in result.stderr
    assert (contoso / "state.json").read_text() == before


@pytest.mark.parametrize(
    ("port", "says"),
    [
        ("99999", "99999 is not a port number (0-65535)"),
        ("-1", "-1 is not"),
        ("http", "'http' is not a port number"),
    ],
)
def test_an_emulator_port_out_of_range_is_a_usage_error(contoso: Path, port: str, says: str):
    # Finding 7: it used to fail at bind() with exit 3 (OverflowError).
    result = run_cli("emulator", "--state", "state.json", "--port", port, cwd=contoso)
    assert result.exit_code == 1
    assert f"argument --port: {says}" in result.stderr
