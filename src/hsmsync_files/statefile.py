"""The state file (the file backend's and the emulator's): JSON in the `LiveState` shape, written
atomically under a file lock.

Only writers lock (`locked`): a write replaces the file by an atomic rename, so a reader always
sees one complete state and needs no lock. Reading commands therefore create nothing, not even a
lock file. The lock file (`<state>.lock`) belongs to writers and stays after them, as flock
locks do (removing it would race with the next writer).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import ValidationError

from hsmsync.core.errors import StateError
from hsmsync.core.state import LiveState
from hsmsync_files.textfiles import read_regular_text, remove_stale_temps, replace_atomically


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextmanager
def locked(path: Path, timeout: float = 30.0) -> Iterator[None]:
    """Hold the state file's lock while writing it (other hsmsync processes and the emulator wait)."""
    lock_path = _lock_path(path)
    try:
        mode = os.stat(lock_path).st_mode
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StateError(f"{lock_path}: cannot use the state file's lock: {exc.strerror}") from None
    else:
        if not stat.S_ISREG(mode):
            raise StateError(
                f"{lock_path}: the state file's lock path is not a regular file (a directory?); "
                "remove it or move it away"
            )
    lock = FileLock(str(lock_path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise StateError(
            f"{path}: another process has held the state file's lock ({lock_path}) for {timeout:g}s; "
            "is another apply or an emulator stuck?"
        ) from None
    except OSError as exc:
        raise StateError(f"{lock_path}: cannot take the state file's lock: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


def read_state_file(path: Path) -> LiveState:
    """The state; needs no lock (writes are atomic renames). Errors name the file and the field."""
    text = read_regular_text(path, "state file", error=StateError)
    try:
        return LiveState.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StateError(f"{path}: invalid state file at {where or '(document)'}: {first['msg']}") from None


def write_state_file(path: Path, state: LiveState) -> None:
    """Replace the file atomically (mode and owner kept). Call while holding `locked(path)`:
    temp files other writers left when they were killed are removed first."""
    data = state.model_dump(mode="json", exclude_defaults=False)
    if state.sign_in == type(state.sign_in)():
        del data["sign_in"]  # only emulator state files sign anyone in
    for hsm in data.get("hsms", {}).values():
        if hsm.get("data_settings", ()) is None:
            del hsm["data_settings"]  # as a new HSM lists them: a file that never named them stays so
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    remove_stale_temps(path)
    try:
        replace_atomically(path, text.encode("utf-8"))
    except OSError as exc:  # a read-only folder, a full disk
        raise StateError(f"{path}: cannot write state file: {exc.strerror or exc}") from None
