"""The Action's main step on its own: exit codes and outputs for cases the workflow tests do not reach."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "action"))
import run_hsmsync  # noqa: E402


def _fake_hsmsync(tmp_path: Path, stdout: str, code: int) -> str:
    script = tmp_path / "fake-hsmsync"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{stdout}'\necho 'usage: hsmsync ...' >&2\nexit {code}\n")
    script.chmod(0o755)
    return str(script)


def _run(tmp_path: Path, hsmsync: str, **inputs: str) -> dict[str, str]:
    output = tmp_path / "github_output"
    environ = {f"INPUT_{k.upper()}": v for k, v in inputs.items()}
    environ |= {"GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp_path)}
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert run_hsmsync.run(environ, hsmsync) == 0
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_a_usage_error_exit_2_is_an_error_not_changes(tmp_path: Path):
    outputs = _run(tmp_path, _fake_hsmsync(tmp_path, "", 2), command="plan", state="s.json")
    assert outputs["exit-code"] == "1"
    assert "hsmsync plan failed (exit 1)" in Path(outputs["comment-file"]).read_text()


def test_changes_exit_2_with_a_report_are_changes(tmp_path: Path):
    outputs = _run(tmp_path, _fake_hsmsync(tmp_path, "### plan", 2), command="plan", state="s.json")
    assert outputs["exit-code"] == "2"
    assert Path(outputs["plan-markdown"]).read_text() == "### plan"


def test_a_non_markdown_report_is_fenced_for_the_comment(tmp_path: Path):
    outputs = _run(
        tmp_path, _fake_hsmsync(tmp_path, "1 to create", 0), command="plan", format="text", state="s"
    )
    assert outputs["plan-markdown"] == "" and outputs["report"].endswith("plan.txt")
    assert Path(outputs["comment-file"]).read_text() == "```\n1 to create```\n"


def test_live_is_the_default_source_and_extra_args_are_passed(tmp_path: Path):
    inv = run_hsmsync.build_invocation(
        {"INPUT_COMMAND": "drift", "INPUT_ARGS": "--fail-on any", "RUNNER_TEMP": str(tmp_path)}
    )
    assert inv.argv == [
        "hsmsync",
        "drift",
        "-f",
        "hsmsync.yaml",
        "--format",
        "markdown",
        "--live",
        "--fail-on",
        "any",
    ]
