"""Packaging: one version, a wheel that carries what hsmsync needs, LICENSE and classifiers, and lower
bounds no older than the versions `make test-lowest` proved (older ones crash: see the reasons)."""

from __future__ import annotations

import email
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import hsmsync
from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# The oldest versions with which the whole suite passes (`make test-lowest`), and why not older.
PROVEN_MINIMUM = {
    "azure-core": (
        "1.37",
        "AccessTokenInfo came in 1.31; before 1.37 a read timeout is not a ServiceResponseTimeoutError",
    ),
    "azure-identity": ("1.17", "the Azure Pipelines sign-in needs AzurePipelinesCredential (1.17)"),
    "azure-mgmt-keyvault": ("13.0", "before 13.0 access-policy Permissions have no keys_property"),
    "pydantic": ("2.11", "older pydantic emits JSON Schemas that differ from those in schemas/"),
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(REPO)]
    subprocess.run(argv, check=True, capture_output=True, timeout=300)
    (built,) = out.glob("hsmsync-*.whl")
    return built


def test_the_version_lives_in_one_place():
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hsmsync.__version__"}
    assert importlib.metadata.version("hsmsync") == hsmsync.__version__


def test_wheel_has_metadata_license_data_and_the_command(wheel: Path):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        info = next(n.rsplit("/", 1)[0] for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_string(whl.read(f"{info}/METADATA").decode())
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    assert meta["Version"] == hsmsync.__version__
    assert meta["License-Expression"] == "MIT"
    assert f"{info}/licenses/LICENSE" in names
    assert "Programming Language :: Python :: 3.13" in (meta.get_all("Classifier") or [])
    assert "hsmsync = hsmsync.cli:main" in entry_points
    assert "hsmsync/py.typed" in names
    assert any(re.fullmatch(r"hsmsync/data/[^/]+\.json", n) for n in names)


def test_the_wheel_runs(wheel: Path, tmp_path: Path):
    # The wheel itself on the path (its dependencies from this venv): the image installs exactly it.
    code = "import hsmsync, sys; from hsmsync.cli import main; print(hsmsync.__file__); sys.exit(main(['--version']))"
    env = {**os.environ, "PYTHONPATH": str(wheel)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert str(wheel) in done.stdout and f"hsmsync {hsmsync.__version__}" in done.stdout


def test_license_file_is_mit():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    assert PYPROJECT["project"]["license"] == "MIT"


def test_python_classifiers_match_requires_python():
    classifiers = PYPROJECT["project"]["classifiers"]
    versions = sorted(
        c.rsplit(" ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    assert versions == ["3.11", "3.12", "3.13"]
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"


def test_lower_bounds_are_not_below_what_the_suite_proved():
    declared = {Requirement(r).name: Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
    for name, (minimum, why) in PROVEN_MINIMUM.items():
        lows = [Version(s.version) for s in declared[name].specifier if s.operator == ">="]
        assert lows and min(lows) >= Version(minimum), f"{name}: {why}"
    for requirement in declared.values():
        assert any(s.operator == ">=" for s in requirement.specifier), f"{requirement} has no lower bound"
