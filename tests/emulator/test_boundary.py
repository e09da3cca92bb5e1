"""The emulator is a package of its own: it reaches into hsmsync only for the pure core, and the
product loads it only for `hsmsync emulator`. import-linter checks the imports statically; these
tests check what a fresh interpreter really loads."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import hsmsync


def _modules_loaded_by(code: str) -> list[str]:
    """The hsmsync* modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith('hsmsync'))))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    loaded: list[str] = json.loads(out.splitlines()[-1])
    return loaded


def test_the_emulator_loads_of_hsmsync_only_the_core_and_the_shared_files() -> None:
    loaded = _modules_loaded_by("import hsmsync_emulator")
    assert "hsmsync_emulator.runtime" in loaded
    product = [m for m in loaded if m == "hsmsync" or m.startswith("hsmsync.")]
    beyond_core = [
        m for m in product if m not in ("hsmsync", "hsmsync.core") and not m.startswith("hsmsync.core.")
    ]
    assert product and beyond_core == []


def test_the_emulator_no_longer_ships_inside_the_product() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("hsmsync.emulator")


def test_no_product_module_loads_the_emulator() -> None:
    modules = pkgutil.walk_packages(hsmsync.__path__, "hsmsync.")
    names = [info.name for info in modules if info.name != "hsmsync.__main__"]  # that one runs the CLI
    assert "hsmsync.cli" in names and "hsmsync.backends.azure.backend" in names
    loaded = _modules_loaded_by("\n".join(f"import {name}" for name in names))
    assert [m for m in loaded if m.startswith("hsmsync_emulator")] == []


def test_the_emulator_command_loads_it() -> None:
    loaded = _modules_loaded_by(
        "from hsmsync.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        "        main(['emulator', '--state', '/nonexistent/state.json'])\n"
        "    except SystemExit:\n"
        "        pass"
    )
    assert "hsmsync_emulator.runtime" in loaded
