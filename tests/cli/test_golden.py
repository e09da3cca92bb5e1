"""Golden outputs of the Contoso plan (text, JSON, markdown). Regenerate: UPDATE_GOLDEN=1 pytest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hsmsync import __version__
from tests.conftest import REPO, run_cli

GOLDEN = REPO / "tests" / "golden"


def _check(name: str, actual: str) -> None:
    # JSON outputs name the hsmsync version: golden files hold a placeholder, so a release does
    # not change them.
    actual = actual.replace(f'"hsmsync_version": "{__version__}"', '"hsmsync_version": "VERSION"')
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual)
    assert path.exists(), f"missing golden file {path}; run UPDATE_GOLDEN=1 pytest"
    assert actual == path.read_text()


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
@pytest.mark.parametrize("state", ["empty-state.json", "live-as-tutorial.json"])
def test_contoso_plan_matches_golden(contoso: Path, fmt: str, state: str):
    result = run_cli("plan", "--state", state, "--format", fmt, cwd=contoso)
    assert result.exit_code == 0, result.stderr
    ext = {"text": "txt", "json": "json", "markdown": "md", "html": "html"}[fmt]
    _check(f"contoso-{state.removesuffix('.json')}.plan.{ext}", result.stdout)
