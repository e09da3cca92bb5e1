"""README "Moving a vault to Azure RBAC": its walkthrough block, run line by line on the emulator in a
copy of examples/vault-migration, as a new user would (the emulator started in-process)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from hsmsync_emulator import start_emulator
from hsmsync_files.statefile import read_state_file
from tests.cli.test_readme_examples import BLOCK, STATED_EXIT
from tests.conftest import REPO, run_cli

MARKER = "tests/e2e/test_readme_vault_migration.py runs this block"


def walkthrough() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in BLOCK.finditer(text) if b["skip"] and MARKER in b["skip"]]
    return [line for line in block["body"].splitlines() if line.strip()]


def test_the_walkthrough_moves_the_example_vault_to_azure_rbac(tmp_path: Path) -> None:
    for item in (REPO / "examples" / "vault-migration").iterdir():
        shutil.copy(item, tmp_path / item.name)
    lines = walkthrough()
    start = shlex.split(lines[0], comments=True)
    assert start[:2] == ["hsmsync", "emulator"] and start[-1] == "&", lines[0]
    state, endpoints = start[start.index("--state") + 1], start[start.index("--endpoints-out") + 1]
    environ: dict[str, str] = {}
    ran = []
    with start_emulator(tmp_path / state, workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / endpoints)
        for line in lines[1:]:
            if line.startswith("export "):
                environ.update(dict(word.split("=", 1) for word in shlex.split(line)[1:]))
                continue
            argv = shlex.split(line, comments=True)
            assert argv[0] == "hsmsync", line
            stated = STATED_EXIT.search(line)
            result = run_cli(*argv[1:], cwd=tmp_path, environ=environ)
            assert "Traceback" not in result.stderr
            assert result.exit_code == (int(stated[1]) if stated else 0), (
                f"{line}\n{result.stdout}{result.stderr}"
            )
            ran.append(argv[1:3])
    assert ["migrate", "--apply"] in ran and ["migrate", "--write"] in ran
    vault = read_state_file(tmp_path / state).vaults["payments-kv"]
    assert vault.enable_rbac_authorization and not vault.access_policies
    assert re.search(r"^\s+rbac: true$", (tmp_path / "hsmsync.yaml").read_text(), re.M)
