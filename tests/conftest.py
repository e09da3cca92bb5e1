"""Shared fixtures: run the CLI in-process with an injected environment."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from hsmsync.cli import main
from hsmsync.environment import Environment
from tests import signin
from tests.signin import with_sign_in

REPO = Path(__file__).resolve().parents[1]
CONTOSO = REPO / "examples" / "contoso"
# Folders whose every test starts the local emulator (real HTTPS, the real Azure SDK clients).
EMULATOR_FOLDERS = ("emulator", "live", "e2e", "reliability")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`emulator` on every test of an emulator folder: `make test-fast` deselects them."""
    tests = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(tests).parts[0]
        if folder in EMULATOR_FOLDERS:
            item.add_marker(pytest.mark.emulator)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(
    *argv: str,
    cwd: Path,
    stdin: str = "",
    tty: bool = False,
    environ: dict[str, str] | None = None,
    now: datetime | None = None,
) -> CliResult:
    """`now`: the time the CLI's clock reads (expiries are judged at it); default the real one."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(stdin),
        stdin_isatty=tty,
        environ=with_sign_in(environ),
        cwd=cwd,
    )
    if now is not None:
        env.clock = lambda: now
    code = main(list(argv), env=env)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def _sign_in_reset() -> Iterator[None]:
    """Each test starts signed in as nobody (see tests/signin.py), with the PATH it started with."""
    path = os.environ.get("PATH", "")
    yield
    signin.CURRENT.clear()
    os.environ["PATH"] = path


@pytest.fixture
def contoso(tmp_path: Path) -> Path:
    """A working copy of the Contoso example with a fresh state file `state.json`."""
    for name in ("hsmsync.yaml", "empty-state.json", "live-as-tutorial.json", "live-with-groups.json"):
        shutil.copy(CONTOSO / name, tmp_path / name)
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "state.json")
    return tmp_path


@pytest.fixture
def emulated_contoso(tmp_path: Path) -> Iterator[Path]:
    """A folder with the Contoso manifest and `endpoints.json` of a running emulator serving the
    empty state, signed in as its initial administrator (`--live --endpoints endpoints.json`)."""
    with signin.contoso_emulator(tmp_path) as emulator:
        signin.sign_in_as(emulator)
        yield tmp_path
