"""The `make test-compat-sdk` report (scripts/compat/run_sdk_tests.py): what counts where."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUNNER = Path(__file__).parents[2] / "scripts" / "compat" / "run_sdk_tests.py"


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_sdk_tests", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_sdk_tests"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_pins_name_an_sdist_hash_and_scope_for_each_package(runner: ModuleType) -> None:
    packages = runner.load_packages(RUNNER.parent / "sdk.json")
    assert [p.name for p in packages] == ["azure-keyvault-administration", "azure-keyvault-keys"]
    for package in packages:
        assert len(package.sha256) == 64 and package.version and package.tests and package.in_scope
        assert not set(package.in_scope) & set(package.out_of_scope)


def test_in_scope_tests_count_per_api_version_and_others_apart(runner: ModuleType) -> None:
    package = runner.Package(
        name="pkg",
        version="1.0",
        sha256="0" * 64,
        tests=["tests/test_x.py"],
        pytest_args=[],
        deselected_reason="vaults",
        in_scope=["test_a"],
        out_of_scope={"test_b": "not served"},
    )
    payload = {
        "tests": [
            {"nodeid": "test_x.py::T::test_a[7.6]", "api_version": "7.6", "outcome": "passed", "message": ""},
            {
                "nodeid": "test_x.py::T::test_a[7.5]",
                "api_version": "7.5",
                "outcome": "failed",
                "message": "boom\nx",
            },
            {
                "nodeid": "test_x.py::T::test_a[7.4]",
                "api_version": "7.4",
                "outcome": "skipped",
                "message": "",
            },
            {
                "nodeid": "test_x.py::T::test_b[7.6]",
                "api_version": "7.6",
                "outcome": "failed",
                "message": "405",
            },
        ],
        "deselected": ["test_x.py::T::test_a[vault]"],
        "skipped_waits": 3,
    }
    result = runner.tally(package, payload, 1.0)
    assert {v: (t.passed, t.failed, t.skipped) for v, t in result.by_version.items()} == {
        "7.6": (1, 0, 0),
        "7.5": (0, 1, 0),
        "7.4": (0, 0, 1),
    }
    assert runner.failures([result]) == [
        "test_x.py::T::test_a[7.5]: boom"
    ]  # out of scope never fails the run
    report = runner.summary([result], 2.0)
    assert "| pkg 1.0 | 7.5 | 0 | 1 | 0 | 1 |" in report
    assert "Out of scope: test_b (not served): 0 passed, 1 failed, 0 skipped of 1." in report
    assert "Not run (1 deselected): vaults." in report
