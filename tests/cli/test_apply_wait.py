"""apply's read-back on the command line: --wait and --no-wait, the visible wait, the file backend."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hsmsync.cli.progress import Mode, Progress
from hsmsync.cli.status import ExitStatus
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "'soon' is not a duration (e.g. 90s, 15m)"),
        ("-5s", "'-5s' is not a duration of 0 seconds or more"),
    ],
)
def test_a_bad_wait_is_a_usage_error(contoso: Path, value: str, message: str) -> None:
    result = run_cli("apply", "--state", "state.json", "--auto-approve", f"--wait={value}", cwd=contoso)
    assert result.exit_code == ExitStatus.ERROR
    assert message in result.stderr and "Traceback" not in result.stderr


def test_wait_and_no_wait_exclude_each_other(contoso: Path) -> None:
    result = run_cli(
        "apply", "--state", "state.json", "--auto-approve", "--wait", "1m", "--no-wait", cwd=contoso
    )
    assert result.exit_code == ExitStatus.ERROR
    assert "not allowed with argument" in result.stderr


def test_the_state_file_is_read_back_at_once(contoso: Path) -> None:
    result = run_cli("apply", "--state", "state.json", "--auto-approve", "--format", "json", cwd=contoso)
    assert result.exit_code == ExitStatus.OK, result.stderr
    report = json.loads(result.stdout)
    assert report["in_effect"] is True
    # 6 HSM changes in 3 reads; 2 Azure role assignments (one scope) and 3 access-policy entries
    # (one vault) in 1 read each
    assert report["verification"]["in_effect"] == 11 and report["verification"]["reads"] == 5
    assert "waiting for changes" not in result.stderr  # a consistent backend never waits


def test_no_wait_says_nothing_was_read_back(contoso: Path) -> None:
    result = run_cli("apply", "--state", "state.json", "--auto-approve", "--no-wait", cwd=contoso)
    assert result.exit_code == ExitStatus.OK
    assert "Not read back (--no-wait): 11 changes may not be in effect yet" in result.stdout


def test_the_wait_is_visible_once_per_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(out, Mode.LINES, interval=10, clock=lambda: now[0])
    progress.effect_waiting(3, 5, 0.0, 600)
    now[0] = 4
    progress.effect_waiting(2, 5, 4.0, 600)  # within the interval: quiet
    now[0] = 11
    progress.effect_waiting(1, 5, 11.0, 600)
    assert out.getvalue().splitlines() == [
        "hsmsync: waiting for changes to take effect: 3 of 5 not yet seen in every region, 0s of at most 600s",
        "hsmsync: waiting for changes to take effect: 1 of 5 not yet seen in every region, 11s of at most 600s",
    ]
    quiet = io.StringIO()
    Progress(quiet, Mode.OFF).effect_waiting(1, 1, 0, 1)
    assert quiet.getvalue() == ""


def test_the_markdown_report_holds_each_change_and_its_effect(contoso: Path) -> None:
    result = run_cli("apply", "--state", "state.json", "--auto-approve", "--format", "markdown", cwd=contoso)
    assert result.exit_code == ExitStatus.OK, result.stderr
    report = result.stdout
    assert report.startswith("### ✅ hsmsync apply: done\n")  # the plan went to stderr
    assert "| # | change | status | effect |" in report
    assert "| 1 | create role_definition contoso /: Contoso Key Rotator | applied | in effect |" in report
    assert report.count("| in effect |") == 11
    assert "In effect: 11 changes read back in every region that answered" in report
    assert "hsmsync plan against fake state file" in result.stderr
