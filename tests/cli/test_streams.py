"""Standard streams as a shell leaves them: a reader that goes away (`| head`), closed descriptors
(`<&-`, `>&-`, `2>&-`), a full disk. Real processes: only they have real descriptors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

PLAN = ("plan", "-f", "hsmsync.yaml", "--state", "state.json")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HSMSYNC_", "AZURE_"))}
    return {**env, "PYTHONPATH": str(REPO / "src")}


def _hsmsync(*args: str) -> list[str]:
    return [sys.executable, "-m", "hsmsync", *args]


def _shell(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`script` with "$@" standing for `python -m hsmsync ARGS`."""
    return subprocess.run(
        ["sh", "-c", script, "sh", *_hsmsync(*args)],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _with_reader_gone(*args: str, cwd: Path) -> tuple[int, str]:
    """Run with stdout a pipe whose reader has already closed it; (exit status, stderr)."""
    proc = subprocess.Popen(
        _hsmsync(*args), cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    return proc.wait(timeout=60), err


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(contoso: Path) -> None:
    code, err = _with_reader_gone(*PLAN, cwd=contoso)
    assert err == ""
    assert code == 141  # 128 + SIGPIPE, as git and coreutils report it


def test_the_commands_own_status_wins_over_a_cut_output(contoso: Path) -> None:
    code, err = _with_reader_gone(*PLAN, "--detailed-exitcode", cwd=contoso)
    assert (code, err) == (2, "")
    code, err = _with_reader_gone("plan", "-f", "hsmsync.yaml", "--state", "missing.json", cwd=contoso)
    assert code == 1 and "missing.json: state file not found" in err


def test_a_closed_stderr_pipe_is_no_traceback(contoso: Path) -> None:
    proc = subprocess.Popen(
        _hsmsync("plan", "-f", "hsmsync.yaml", "--state", "missing.json"),
        cwd=contoso,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    proc.stderr.close()
    out = proc.stdout.read()
    assert proc.wait(timeout=60) == 1
    assert out == ""


@pytest.mark.parametrize("redirect", ["<&-", ">&-", "2>&-"])
def test_validate_works_with_a_closed_standard_descriptor(contoso: Path, redirect: str) -> None:
    result = _shell(f'exec "$@" {redirect}', "validate", "-f", "hsmsync.yaml", cwd=contoso)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    if redirect != ">&-":
        assert "hsmsync.yaml: valid" in result.stdout


def test_apply_with_stdin_closed_refuses_without_confirmation(contoso: Path) -> None:
    result = _shell('exec "$@" <&-', "apply", "-f", "hsmsync.yaml", "--state", "state.json", cwd=contoso)
    assert result.returncode == 1
    assert "refusing to apply without confirmation: not on a terminal" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_full_disk_is_a_clear_error(contoso: Path) -> None:
    result = _shell('exec "$@" >/dev/full', *PLAN, cwd=contoso)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: cannot write output: No space left on device"


def test_a_usage_error_exits_1_not_2(contoso: Path) -> None:
    result = run_cli("plan", "--no-such-option", cwd=contoso)
    assert result.exit_code == 1
    assert "unrecognized arguments: --no-such-option" in result.stderr
    assert run_cli("--version", cwd=contoso).exit_code == 0
