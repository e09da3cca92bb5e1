"""The Action's main step: run one hsmsync command from the Action's inputs and record the outputs.

Inputs arrive as INPUT_* environment variables (set by action.yml). It writes the report to
`output-dir`, shows it in the job log and the job summary, and sets the step outputs `exit-code`,
`report`, `plan-json` and `plan-markdown` (and `comment-file`, the report as markdown for the next
step). It always exits 0 itself so the following step can post
even a failed plan to the pull request (a stale comment must not stand); the Action's last step
fails the job when hsmsync failed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

COMMANDS = ("plan", "apply", "drift", "validate", "lint")
DEFAULT_FORMAT = {"plan": "markdown", "drift": "markdown"}  # the others: text
EXTENSION = {"markdown": "md", "text": "txt", "json": "json", "html": "html", "sarif": "sarif"}


class InputError(Exception):
    """A wrong Action input: reported as an error annotation, exit code 1."""


@dataclass(frozen=True)
class Invocation:
    argv: list[str]
    report: Path
    plan_json: Path | None
    format: str


def _inputs(environ: Mapping[str, str]) -> dict[str, str]:
    return {k[len("INPUT_") :].lower(): v.strip() for k, v in environ.items() if k.startswith("INPUT_")}


def build_invocation(environ: Mapping[str, str], hsmsync: str = "hsmsync") -> Invocation:
    """The hsmsync command line for the inputs; refuses what would be unsafe or cannot work."""
    inp = _inputs(environ)
    command = inp.get("command", "")
    if command not in COMMANDS:
        raise InputError(f"input `command` must be one of {', '.join(COMMANDS)}, got {command!r}")
    fmt = inp.get("format") or DEFAULT_FORMAT.get(command, "text")
    out_dir = Path(inp.get("output_dir") or Path(environ.get("RUNNER_TEMP", ".")) / "hsmsync")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / f"{command}.{EXTENSION.get(fmt, 'txt')}"
    argv = [hsmsync, command]
    if command == "validate":
        return Invocation([*argv, *shlex.split(inp.get("manifest") or "hsmsync.yaml")], report, None, fmt)
    argv += ["-f", inp.get("manifest") or "hsmsync.yaml"]
    if command in ("plan", "drift", "lint"):
        argv += ["--format", fmt]
    if inp.get("state"):
        argv += ["--state", inp["state"]]
    elif command != "lint":
        argv.append("--live")
    if inp.get("endpoints"):
        argv += ["--endpoints", inp["endpoints"]]
    argv += _target_args(inp.get("targets", ""), command, hsmsync)
    plan_json = out_dir / "plan.json" if command == "plan" else None
    if plan_json is not None:
        argv += _plan_args(plan_json, fmt, _run_url(environ), hsmsync)
    if command == "apply":
        if not inp.get("plan"):
            raise InputError("apply needs input `plan`: the saved plan reviewed on the pull request")
        argv += [inp["plan"], "--auto-approve"]
    return Invocation([*argv, *shlex.split(inp.get("args", ""))], report, plan_json, fmt)


def _plan_args(plan_json: Path, fmt: str, run_url: str, hsmsync: str) -> list[str]:
    """`plan` saves the plan for the apply job and reports changes as exit 2."""
    args = ["--out", str(plan_json), "--detailed-exitcode"]
    if fmt == "markdown" and run_url and _supports(hsmsync, "plan", "--full-plan-url"):
        args += ["--full-plan-url", run_url]  # where a capped comment sends readers
    return args


def _supports(hsmsync: str, command: str, option: str) -> bool:
    """Whether the installed hsmsync has `option` (a pinned older version may not)."""
    help_text = subprocess.run([hsmsync, command, "--help"], capture_output=True, text=True).stdout
    return option in help_text


def _run_url(environ: Mapping[str, str]) -> str:
    """This workflow run's page, where the uploaded plan artifacts are."""
    server, repo = environ.get("GITHUB_SERVER_URL", ""), environ.get("GITHUB_REPOSITORY", "")
    run_id = environ.get("GITHUB_RUN_ID", "")
    return f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else ""


def _target_args(targets: str, command: str, hsmsync: str) -> list[str]:
    """`targets` is passed on as `--target` only where this hsmsync has that option."""
    names = targets.replace(",", " ").split()
    if not names:
        return []
    if not _supports(hsmsync, command, "--target"):
        raise InputError(
            f"input `targets` needs `hsmsync {command} --target`, which this hsmsync version does not have; "
            "split the fleet into one manifest per matrix job instead"
        )
    return [arg for name in names for arg in ("--target", name)]


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)


def run(environ: Mapping[str, str], hsmsync: str = "hsmsync") -> int:
    try:
        inv = build_invocation(environ, hsmsync)
    except InputError as exc:
        sys.stderr.write(f"::error::{exc}\n")
        _append(environ.get("GITHUB_OUTPUT"), "exit-code=1\n")
        return 1
    sys.stdout.write(f"+ {shlex.join(inv.argv)}\n")
    done = subprocess.run(inv.argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    code = done.returncode
    if code == 2 and not done.stdout:  # an argparse usage error also exits 2: never read it as changes
        code = 1
    report = done.stdout if code in (0, 2) else _failure_report(inv, code, done.stdout, done.stderr)
    inv.report.write_text(report, encoding="utf-8")
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    comment = inv.report.with_name(f"{inv.argv[1]}-comment.md")
    as_markdown = inv.format == "markdown" or code not in (0, 2)
    comment.write_text(report if as_markdown else f"```\n{report}```\n", encoding="utf-8")
    outputs = {
        "exit-code": str(code),
        "comment-file": str(comment),
        "report": str(inv.report),
        "plan-json": str(inv.plan_json) if inv.plan_json and inv.plan_json.is_file() else "",
        "plan-markdown": str(inv.report) if inv.format == "markdown" else "",
    }
    _append(environ.get("GITHUB_OUTPUT"), "".join(f"{k}={v}\n" for k, v in outputs.items()))
    if inv.format == "markdown" or code not in (0, 2):
        _append(environ.get("GITHUB_STEP_SUMMARY"), report + "\n")
    return 0


def _failure_report(inv: Invocation, code: int, stdout: str, stderr: str) -> str:
    command = inv.argv[1]
    tail = "\n".join((stdout + stderr).strip().splitlines()[-40:])
    return f"### hsmsync {command} failed (exit {code})\n\n```\n{tail}\n```\n"


if __name__ == "__main__":
    sys.exit(run(os.environ, os.environ.get("HSMSYNC_BIN", "hsmsync")))
