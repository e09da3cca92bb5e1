"""Run action.yml's own steps the way the GitHub runner does, on this machine.

It reads the composite Action, applies input defaults, evaluates the `${{ }}` expressions the Action
uses (inputs.*, github.*, steps.*.outputs.*, `a || b`), runs each `run:` step with
`bash --noprofile --norc -eo pipefail` and the step's `env`, collects outputs from $GITHUB_OUTPUT,
and evaluates the Action's outputs. `uses:` steps (actions/setup-python) are not run: the test's
Python is already set up. The `install` step (pip install of the Action's checkout) is not run
either: hsmsync is already installed in this venv, and installing it again takes minutes here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
NOT_RUN_HERE = {"install"}


@dataclass
class StepRun:
    id: str
    name: str
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]

    @property
    def failed(self) -> bool:
        return any(s.exit_code != 0 for s in self.steps)

    @property
    def log(self) -> str:
        return "".join(s.stdout + s.stderr for s in self.steps)


def _lookup(path: str, context: dict[str, Any]) -> str:
    value: Any = context
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return str(value)


def evaluate(text: str, context: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        for alternative in match.group(1).split("||"):
            value = _lookup(alternative.strip(), context)
            if value:
                return value
        return ""

    return EXPRESSION.sub(one, text)


def _parse_outputs(path: Path) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    it = iter(lines)
    for line in it:
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delimiter = line.split("<<", 1)
            value = []
            for inner in it:
                if inner == delimiter:
                    break
                value.append(inner)
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value_ = line.split("=", 1)
            outputs[name] = value_
    return outputs


def run_action(
    inputs: dict[str, str], *, workspace: Path, environ: dict[str, str], action_dir: Path = REPO
) -> ActionRun:
    action = yaml.safe_load((action_dir / "action.yml").read_text())
    token = environ.get("ACTIONS_TEST_TOKEN", "")
    context: dict[str, Any] = {"github": {"token": token, "action_path": str(action_dir)}, "steps": {}}
    defaults = {
        name: evaluate(str(spec.get("default", "")), context) for name, spec in action["inputs"].items()
    }
    unknown = set(inputs) - set(defaults)
    assert not unknown, f"inputs not declared in action.yml: {unknown}"
    context["inputs"] = {**defaults, **inputs}
    base = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(workspace),
        "GITHUB_ACTION_PATH": str(action_dir),
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(workspace / "_temp"),
        **environ,
    }
    (workspace / "_temp").mkdir(exist_ok=True)
    steps: list[StepRun] = []
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"step{index}")
        if "uses" in step or step_id in NOT_RUN_HERE:
            continue
        output_file = workspace / "_temp" / f"output-{len(steps)}-{step_id}"
        summary = workspace / "_temp" / "summary.md"
        env = {**base, "GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary)}
        env.update({k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()})
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", evaluate(step["run"], context)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs = _parse_outputs(output_file)
        context["steps"][step_id] = {"outputs": outputs}
        steps.append(
            StepRun(step_id, step.get("name", ""), done.returncode, done.stdout, done.stderr, outputs)
        )
        if done.returncode != 0:
            break  # later steps run only on success, as in a composite Action
    outputs = {name: evaluate(str(spec["value"]), context) for name, spec in action["outputs"].items()}
    return ActionRun(steps, outputs)
