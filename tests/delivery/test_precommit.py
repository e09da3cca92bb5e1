"""The pre-commit hooks, run by the real `pre-commit` in a temporary git repository.

pre-commit clones this repository at HEAD and installs hsmsync into its own virtualenv with pip
(from the package registry, once per test module: about 45 s here), exactly as a user's
`repo: <hsmsync>` entry would. So what is tested is the committed `.pre-commit-hooks.yaml`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONTOSO, REPO

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
SEPARATION_OF_DUTIES = "      - {hsm: contoso, role: Crypto User, scope: /keys/app-signing}\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    (tmp_path / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {REPO}\n    rev: {head}\n    hooks:\n      - id: hsmsync-validate\n      - id: hsmsync-lint\n"
    )
    (tmp_path / "teams").mkdir()
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "teams" / "hsmsync-payments.yaml")
    (tmp_path / "notes.yaml").write_text("not: [a manifest\n")  # not named like a manifest: not checked
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    return tmp_path


def _run(repo: Path, home: Path, *hooks: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    argv = [*PRE_COMMIT, "run", *hooks, "--all-files", "--verbose"]
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=900)


def test_hooks_file_is_valid_for_pre_commit():
    result = subprocess.run(
        [*PRE_COMMIT, "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_hook_checks_every_manifest_and_fails_on_a_broken_one(repo: Path, pre_commit_home: Path):
    ok = _run(repo, pre_commit_home, "hsmsync-validate")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "hsmsync.yaml: valid (7 principals" in ok.stdout
    assert "teams/hsmsync-payments.yaml: valid (7 principals" in ok.stdout
    assert "notes.yaml" not in ok.stdout

    (repo / "teams" / "hsmsync-broken.yaml").write_text(
        "version: 1\nprincipals:\n  ops: {type: Group, id: nope}\n"
    )
    _git(repo, "add", ".")
    bad = _run(repo, pre_commit_home, "hsmsync-validate")
    assert bad.returncode == 1
    assert "teams/hsmsync-broken.yaml:3: principals.ops.id" in bad.stdout
    assert "teams/hsmsync-payments.yaml: valid" in bad.stdout
    assert "Traceback" not in bad.stdout


def test_lint_hook_fails_on_a_baseline_error(repo: Path, pre_commit_home: Path):
    ok = _run(repo, pre_commit_home, "hsmsync-lint")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    manifest = repo / "hsmsync.yaml"
    lines = manifest.read_text().splitlines(keepends=True)
    admin = next(i for i, line in enumerate(lines) if "role: Managed HSM Administrator, scope: /}" in line)
    lines.insert(admin + 1, SEPARATION_OF_DUTIES)
    manifest.write_text("".join(lines))
    _git(repo, "add", ".")
    bad = _run(repo, pre_commit_home, "hsmsync-lint")
    assert bad.returncode == 1, bad.stdout
    assert "HSM001" in bad.stdout
