"""The README's command examples, run word for word against the Contoso demo state.

Every line of a fenced `sh`/`console`/`bash` block that starts with `hsmsync ` is run in-process,
in order, in a copy of examples/contoso whose `state.json` is the demo's empty state. A block that
cannot run here (it needs Azure, a running emulator, or is illustrative) says so right before it:
`<!-- readme-test: skip (reason) -->`. Exit codes: the one its comment states (`# exit 2: ...`),
else 0, or 2 where the command documents it (`drift`, `--detailed-exitcode`); never a traceback.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

BLOCK = re.compile(
    r"^(?:<!-- readme-test: (?P<skip>skip[^>]*) -->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)^```", re.M | re.S
)
SHELL = ("sh", "console", "bash")
CHANGES_EXIT = 2
STATED_EXIT = re.compile(r"#\s*exit (\d+)\b")


@dataclass(frozen=True)
class Example:
    line: int
    argv: tuple[str, ...]
    stated_exit: int | None = None

    @property
    def allowed_codes(self) -> set[int]:
        if self.stated_exit is not None:
            return {self.stated_exit}
        documented_two = self.argv[1] == "drift" or "--detailed-exitcode" in self.argv
        return {0, CHANGES_EXIT} if documented_two else {0}


def readme_examples(text: str) -> tuple[list[Example], list[tuple[int, str]]]:
    """(the command examples to run, the skipped blocks with their reasons)."""
    examples, skipped = [], []
    for block in BLOCK.finditer(text):
        if block["lang"] not in SHELL:
            continue
        first = text.count("\n", 0, block.start("lang")) + 1
        if block["skip"]:
            skipped.append((first, block["skip"]))
            continue
        for offset, raw in enumerate(block["body"].splitlines(), start=1):
            line = raw.removeprefix("$ ")
            if line.startswith("hsmsync "):
                stated = STATED_EXIT.search(line)
                argv = tuple(shlex.split(line, comments=True))
                examples.append(Example(first + offset, argv, int(stated[1]) if stated else None))
    return examples, skipped


README = (REPO / "README.md").read_text(encoding="utf-8")
EXAMPLES, SKIPPED = readme_examples(README)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working copy for the whole README, so `plan --out plan.json` feeds `show plan.json`."""
    directory = tmp_path_factory.mktemp("readme")
    for item in (REPO / "examples" / "contoso").iterdir():
        shutil.copy(item, directory / item.name)
    shutil.copy(directory / "empty-state.json", directory / "state.json")
    return directory


def test_the_readme_has_command_examples_and_few_explicit_skips():
    assert len(EXAMPLES) >= 20
    assert len(SKIPPED) <= 4, SKIPPED
    assert all("(" in reason for _, reason in SKIPPED), "every skip gives its reason"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"README.md:{e.line}")
def test_a_readme_example_runs_as_documented(example: Example, demo: Path):
    result = run_cli(*example.argv[1:], cwd=demo)
    assert "Traceback" not in result.stderr
    assert "unexpected error" not in result.stderr
    assert result.exit_code in example.allowed_codes, (
        f"README.md:{example.line}: {shlex.join(example.argv)} -> exit {result.exit_code}\n{result.stderr}"
    )


def test_the_extractor_reads_skips_comments_and_prompts():
    text = (
        "```sh\n$ hsmsync plan --state s.json   # a comment\nls\nhsmsync drift  # exit 2: drifted\n```\n"
        "<!-- readme-test: skip (needs Azure) -->\n```sh\nhsmsync plan --live\n```\n"
        "```yaml\nhsmsync: not a command\n```\n"
    )
    examples, skipped = readme_examples(text)
    assert examples == [
        Example(2, ("hsmsync", "plan", "--state", "s.json")),
        Example(4, ("hsmsync", "drift"), 2),
    ]
    assert skipped == [(7, "skip (needs Azure)")]
