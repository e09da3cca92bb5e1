"""The emulator leaves nothing behind: SIGTERM and SIGHUP stop it cleanly, the TLS private key
never stays on disk, and a failed start removes its temp folder."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hsmsync.core.errors import HsmsyncError
from hsmsync_emulator import run_emulator_cli, start_emulator
from tests.conftest import REPO

from .conftest import acl


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_emulator_removes_its_temp_folder(state_file: Path, tmp_path: Path, signum: int) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    endpoints = tmp_path / "endpoints.json"
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hsmsync",
            "emulator",
            "--state",
            str(state_file),
            "--endpoints-out",
            str(endpoints),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (endpoints.exists() and endpoints.stat().st_size) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        (workdir,) = temp.iterdir()
        assert workdir.name.startswith("hsmsync-emulator-")
        # Only the certificate clients trust; the private key is in the server's memory only.
        assert _files(temp) == [workdir.name, f"{workdir.name}/ca.pem"]
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    assert _files(temp) == []


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder Python's tempfile uses in this test (where the emulator makes its own)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_failed_start_removes_its_temp_folder(state_file: Path, temp: Path, taken_port: int) -> None:
    with pytest.raises(OSError):
        start_emulator(state_file, port=taken_port)
    assert _files(temp) == []


def test_cli_start_failures_are_clear_errors_that_leave_nothing(
    state_file: Path, tmp_path: Path, temp: Path, taken_port: int
) -> None:
    with pytest.raises(HsmsyncError, match=f"cannot listen on 127.0.0.1, port {taken_port}.*in use"):
        run_emulator_cli(state_file, taken_port, None, None, io.StringIO())
    missing = tmp_path / "no" / "endpoints.json"
    with pytest.raises(HsmsyncError, match="no/endpoints.json: cannot write the endpoints file"):
        run_emulator_cli(state_file, 0, missing, None, io.StringIO())
    assert _files(temp) == []


def test_an_emulator_that_only_serves_reads_writes_nothing_next_to_the_state_file(state_file: Path) -> None:
    before = _files(state_file.parent)
    with start_emulator(state_file) as emu:
        assert list(acl(emu).list_role_assignments("/"))
        assert _files(state_file.parent) == before  # no lock file: reading takes no lock
    assert _files(state_file.parent) == before
