"""pytest plugin for the compat run (`-p hsmsync_compat_plugin`): plumbing around the SDK's tests,
which stay unchanged.

- Every api-version: the SDK's live preparers skip any api-version but the client's default
  (`_skip_if_not_configured`: a real service is slow, so their CI runs one). Here each test runs
  with the version it is parametrized with treated as the default (`DEFAULT_VERSION` of the
  SDK's `_test_case` modules), so all of them run.
- Waits: the tests sleep in live mode to pace a real service (60 s after each access-control test,
  2 s before each key creation, 3 s between polls). Those sleeps, called from the SDK's tests
  directory, return at once (their number is reported); the SDK library's own waits (retries,
  Retry-After) are real. HSMSYNC_COMPAT_REAL_WAITS=1 keeps every wait.
- The endpoint: the HSM is called by an Azure host name on port 443, as in Azure
  (HSMSYNC_COMPAT_RESOLVE=compat.managedhsm.azure.net=127.0.0.1:<port>); this process resolves
  that name and port to the emulator's address (like a hosts file and a port forward), and the
  emulator's certificate names that host. So the SDK's challenge check (the 401's resource must
  match the vault's domain, port included) runs as against Azure instead of being switched off.
- Results: each test's outcome and api-version go to HSMSYNC_COMPAT_RESULTS (JSON) for the summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from devtools_testutils import test_proxy  # noqa: F401 - the fixture their conftest asks for

_TESTS_DIR = Path(os.environ.get("HSMSYNC_COMPAT_TESTS_DIR", "/nonexistent")).resolve()
_REAL_WAITS = os.environ.get("HSMSYNC_COMPAT_REAL_WAITS", "") == "1"


def _resolve_map(spec: str) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        name, _, target = entry.partition("=")
        address, _, port = target.rpartition(":")
        out[name.lower()] = (address, int(port))
    return out


_RESOLVE = _resolve_map(os.environ.get("HSMSYNC_COMPAT_RESOLVE", ""))
_real_getaddrinfo = socket.getaddrinfo
_real_sleep = time.sleep
_real_async_sleep = asyncio.sleep
_skipped_waits: list[float] = []
_results: dict[str, dict[str, Any]] = {}
_versions: dict[str, str] = {}
_deselected: list[str] = []


def _called_from_tests() -> bool:
    caller = Path(sys._getframe(2).f_code.co_filename).resolve()
    return not _REAL_WAITS and caller.is_relative_to(_TESTS_DIR)


def _sleep(seconds: float) -> None:
    if _called_from_tests():
        _skipped_waits.append(seconds)
        return
    _real_sleep(seconds)


def _async_sleep(delay: float, result: Any = None) -> Any:
    if _called_from_tests():
        _skipped_waits.append(delay)
        return _real_async_sleep(0, result)
    return _real_async_sleep(delay, result)


def _getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    target = _RESOLVE.get(host.lower()) if isinstance(host, str) else None
    if target is not None and str(port) in ("443", "https"):
        host, port = target
    return _real_getaddrinfo(host, port, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001 - pytest's hook signature
    socket.getaddrinfo = _getaddrinfo
    time.sleep = _sleep
    asyncio.sleep = _async_sleep  # type: ignore[assignment]


def _api_version(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("api_version") if callspec is not None else None
    return None if value is None else str(getattr(value, "value", value))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:  # noqa: ARG001
    for item in items:
        _versions[item.nodeid] = _api_version(item) or "-"


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(item.nodeid for item in items)


@pytest.fixture(autouse=True)
def _hsmsync_api_version_under_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    callspec = getattr(request.node, "callspec", None)
    version = callspec.params.get("api_version") if callspec is not None else None
    if version is None:
        return
    for name in ("_test_case", "_async_test_case"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "DEFAULT_VERSION"):
            monkeypatch.setattr(module, "DEFAULT_VERSION", version)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    if report.failed and entry["outcome"] != "failed":
        entry["outcome"] = "failed"
        crash = getattr(report.longrepr, "reprcrash", None)
        entry["message"] = (crash.message if crash is not None else str(report.longrepr))[:500]
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
        entry["message"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:  # noqa: ARG001
    time.sleep = _real_sleep
    asyncio.sleep = _real_async_sleep
    target = os.environ.get("HSMSYNC_COMPAT_RESULTS")
    if not target:
        return
    tests = [
        {"nodeid": nodeid, "api_version": _versions.get(nodeid, "-"), **entry}
        for nodeid, entry in _results.items()
    ]
    payload = {"tests": tests, "deselected": _deselected, "skipped_waits": len(_skipped_waits)}
    Path(target).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
