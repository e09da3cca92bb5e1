"""State files: only regular UTF-8 files are read, writes keep the mode and leave nothing behind,
and commands that only read write nothing (no lock file, no directory)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hsmsync_files.statefile import write_state_file
from tests.conftest import CONTOSO, REPO, run_cli
from tests.reliability.fleet import Fleet


def _cli(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The real process: a FIFO would block an in-process test forever."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HSMSYNC_", "AZURE_"))}
    return subprocess.run(
        [sys.executable, "-m", "hsmsync", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _plan(contoso: Path, state: str) -> tuple[int, str]:
    result = run_cli("plan", "-f", "hsmsync.yaml", "--state", state, cwd=contoso)
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    return result.exit_code, result.stderr


def test_invalid_utf8_state_file_is_a_clear_error(contoso: Path) -> None:
    (contoso / "bad.json").write_bytes(b'{"hsms": {}}\n\xff\xfe')
    code, err = _plan(contoso, "bad.json")
    assert code == 1
    assert "bad.json: state file is not UTF-8 text (invalid byte at line 2, offset 13)" in err


def test_directory_and_device_as_state_file_are_clear_errors(contoso: Path) -> None:
    (contoso / "dir.json").mkdir()
    code, err = _plan(contoso, "dir.json")
    assert code == 1
    assert "dir.json: cannot read state file: it is a directory, not a regular file" in err
    code, err = _plan(contoso, os.devnull)
    assert code == 1
    assert f"{os.devnull}: cannot read state file: it is a device, not a regular file" in err


def test_fifo_as_state_file_is_refused_without_blocking(contoso: Path) -> None:
    os.mkfifo(contoso / "pipe.json")
    result = _cli("plan", "-f", "hsmsync.yaml", "--state", "pipe.json", cwd=contoso, timeout=20)
    assert result.returncode == 1, result.stderr
    assert "pipe.json: cannot read state file: it is a named pipe (FIFO), not a regular file" in result.stderr


def test_a_lock_path_that_is_a_directory_is_a_clear_error(contoso: Path) -> None:
    (contoso / "state.json.lock").mkdir()
    result = run_cli("apply", "-f", "hsmsync.yaml", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 1, result.stderr
    assert "state.json.lock: the state file's lock path is not a regular file" in result.stdout
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr


@pytest.mark.parametrize("mode", [0o644, 0o664, 0o600])
def test_apply_keeps_the_state_files_mode(contoso: Path, mode: int) -> None:
    state = contoso / "state.json"
    state.chmod(mode)
    result = run_cli("apply", "-f", "hsmsync.yaml", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(state.stat().st_mode) == mode
    assert state.read_text() != (CONTOSO / "empty-state.json").read_text()  # it was rewritten


def test_a_new_file_gets_the_umask_mode_and_a_symlink_stays_a_symlink(tmp_path: Path) -> None:
    from hsmsync_files.textfiles import replace_atomically

    old = os.umask(0o022)
    try:
        replace_atomically(tmp_path / "new.json", b"{}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644
    (tmp_path / "link.json").symlink_to("new.json")
    replace_atomically(tmp_path / "link.json", b"[]\n")
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "new.json").read_text() == "[]\n"


def _leftovers(directory: Path, name: str = "state.json") -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f".{name}."))


def test_the_next_write_removes_temp_files_a_killed_writer_left(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    shutil.copy(CONTOSO / "empty-state.json", state)
    (tmp_path / ".state.json.0123456789ab.tmp").write_text("{half a state")
    (tmp_path / ".other.json.0123456789ab.tmp").write_text("not ours")
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    result = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert _leftovers(tmp_path) == []
    assert (tmp_path / ".other.json.0123456789ab.tmp").exists()  # another file's temp is not touched


SMALL = Fleet(hsms=1, keys=10, keyed=10, per_key=3, wide=5, missing=10, stray=0)


def test_sigkill_mid_apply_leaves_no_temp_copy_after_the_next_run(tmp_path: Path) -> None:
    """`apply --state` rewrites the file per change; a kill between creating a temp copy and
    renaming it leaves the copy. The next writer removes it under the lock."""
    manifest, state = SMALL.write(tmp_path)
    for _ in range(20):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HSMSYNC_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "hsmsync", "apply", "--state", "state.json", "--auto-approve", "-q"],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(REPO / "src")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and not _leftovers(tmp_path) and time.monotonic() < deadline:
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if _leftovers(tmp_path):
            break
        write_state_file(state, SMALL.live())  # the kill missed the write: start again
    assert _leftovers(tmp_path), "no kill landed mid-write in 20 tries"
    rerun = _cli("apply", "--state", "state.json", "--auto-approve", "-q", cwd=tmp_path, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert _leftovers(tmp_path) == []
    assert manifest.exists()


def _snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_mode, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
    }


READ_ONLY = [
    ("validate", "-f", "hsmsync.yaml"),
    ("plan", "-f", "hsmsync.yaml", "--state", "live-as-tutorial.json"),
    ("drift", "-f", "hsmsync.yaml", "--state", "live-as-tutorial.json"),
    ("lint", "-f", "hsmsync.yaml", "--state", "live-as-tutorial.json"),
    ("whocan", "-f", "hsmsync.yaml", "--state", "live-as-tutorial.json", "--hsm", "contoso", "sign"),
    ("explain", "-f", "hsmsync.yaml", "--state", "live-as-tutorial.json", "app-vm"),
    ("export", "--state", "live-as-tutorial.json"),
    ("resolve", "--check", "-f", "hsmsync.yaml"),
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=[a[0] for a in READ_ONLY])
def test_read_only_commands_write_nothing(contoso: Path, argv: tuple[str, ...]) -> None:
    before = _snapshot(contoso)
    result = run_cli(*argv, cwd=contoso)
    assert result.exit_code in (0, 2), result.stderr
    assert _snapshot(contoso) == before


def test_a_state_file_in_a_missing_directory_creates_no_directory(contoso: Path) -> None:
    code, err = _plan(contoso, "missing/dir/state.json")
    assert code == 1 and "missing/dir/state.json: state file not found" in err
    assert not (contoso / "missing").exists()


def test_no_lock_file_is_committed() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.lock"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == []


OUTPUTS = [
    ("plan", "-f", "hsmsync.yaml", "--state", "state.json", "--out", "{}"),
    ("drift", "-f", "hsmsync.yaml", "--state", "state.json", "--report", "{}"),
    ("export", "--state", "state.json", "-o", "{}"),
]


@pytest.mark.parametrize("argv", OUTPUTS, ids=[a[0] for a in OUTPUTS])
@pytest.mark.parametrize(
    ("where", "why"), [("no/such/dir/out", "No such file or directory"), ("adir", "Is a directory")]
)
def test_an_output_file_that_cannot_be_written_is_a_clear_error(
    contoso: Path, argv: tuple[str, ...], where: str, why: str
) -> None:
    (contoso / "adir").mkdir()
    result = run_cli(*(a.format(where) for a in argv), cwd=contoso)
    assert result.exit_code == 1, result.stderr
    assert f"error: {where}: cannot write the " in result.stderr and why in result.stderr
    assert not (contoso / "no").exists() and list((contoso / "adir").iterdir()) == []
    assert not [p for p in contoso.iterdir() if p.name.endswith(".tmp")]


def test_an_endpoints_file_that_is_not_utf8_is_a_clear_error(contoso: Path) -> None:
    (contoso / "endpoints.json").write_bytes(b'{"emulator": true,\n"\xff"}')
    result = run_cli("plan", "-f", "hsmsync.yaml", "--live", "--endpoints", "endpoints.json", cwd=contoso)
    assert result.exit_code == 1, result.stderr
    assert "endpoints.json: endpoints file is not UTF-8 text (invalid byte at line 2" in result.stderr


def test_a_state_file_that_cannot_be_written_fails_its_change_clearly(
    contoso: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    result = run_cli("apply", "-f", "hsmsync.yaml", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 1, result.stderr
    assert "state.json: cannot write state file: No space left on device" in result.stdout
    assert "Apply stopped at the first error: 0 applied" in result.stdout
    assert _leftovers(contoso) == []
