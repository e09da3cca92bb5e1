"""Issue 9 item 4: a per-key scope naming a key that does not exist is reported at plan time with
the closest existing key names: a warning in every renderer, an error under --strict. Only where
discovery listed the keys: otherwise nothing is guessed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CONTOSO, run_cli
from tests.e2e.test_live_cli import MINIMAL
from tests.signin import contoso_emulator, sign_in_as

TYPO = "/keys/app-signinng"
HINT = "scope /keys/app-signinng names no existing key; did you mean app-signing?"


def _typo(directory: Path, manifest: str | None = None) -> None:
    path = directory / "hsmsync.yaml"
    text = manifest if manifest is not None else path.read_text()
    assert "/keys/app-signing" in text
    path.write_text(text.replace("/keys/app-signing", TYPO))


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_every_renderer_shows_the_warning_with_the_closest_key(contoso: Path, fmt: str):
    _typo(contoso)
    result = run_cli("plan", "--state", "state.json", "--format", fmt, cwd=contoso)
    assert result.exit_code == 0, result.stderr
    assert HINT in result.stdout
    assert "teams.rotation.data" in result.stdout  # where: `[0]` follows, escaped per format
    if fmt == "json":
        assert any(HINT in w for w in json.loads(result.stdout)["warnings"])


def test_the_warning_names_the_real_keys_assignment_the_plan_deletes(contoso: Path):
    assert run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso).exit_code == 0
    _typo(contoso)  # with prune: true, the typo replaces the key-rotation job's real assignment
    result = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert HINT in result.stdout
    assert "this plan deletes 1 assignment at /keys/app-signing)" in result.stdout


@pytest.mark.parametrize("argv", [("plan",), ("drift",), ("apply", "--auto-approve")])
def test_strict_makes_it_an_error(contoso: Path, argv: tuple[str, ...]):
    _typo(contoso)
    result = run_cli(*argv, "--strict", "--state", "state.json", cwd=contoso)
    assert result.exit_code == 1
    assert "--strict" in result.stderr and HINT in result.stderr
    assert json.loads((contoso / "state.json").read_text()) == json.loads(
        (CONTOSO / "empty-state.json").read_text()
    )


def test_an_existing_key_in_another_case_is_no_warning(contoso: Path):
    path = contoso / "hsmsync.yaml"
    path.write_text(path.read_text().replace("/keys/app-signing", "/keys/App-Signing"))
    result = run_cli("plan", "--strict", "--state", "state.json", cwd=contoso)
    assert result.exit_code == 0 and "names no existing key" not in result.stdout


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Path]:
    with contoso_emulator(tmp_path) as emulator:
        sign_in_as(emulator)
        yield tmp_path


def test_live_full_discovery_lists_keys_and_warns(emulated: Path):
    _typo(emulated)
    result = run_cli("plan", "--live", "--endpoints", "endpoints.json", cwd=emulated)
    assert result.exit_code == 0, result.stderr
    assert "full discovery" in result.stdout and HINT in result.stdout
    strict = run_cli("plan", "--strict", "--live", "--endpoints", "endpoints.json", cwd=emulated)
    assert strict.exit_code == 1 and HINT in strict.stderr


def test_live_principal_discovery_does_not_guess(emulated: Path):
    _typo(emulated, MINIMAL)  # prune: false and one principal: keys are not listed
    result = run_cli("plan", "--strict", "--live", "--endpoints", "endpoints.json", cwd=emulated)
    assert result.exit_code == 0, result.stderr
    assert "principal discovery" in result.stdout and "names no existing key" not in result.stdout
