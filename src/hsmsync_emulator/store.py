"""The emulator's store: a `LiveState` in memory, persisted to the state file after every change.

Changes made to the file by someone else (a test simulating drift, `hsmsync apply --state`) are
picked up: before each operation the store compares the file's stamp with the one it last saw.
Reading takes no lock (writers rename complete files into place); writing does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hsmsync.core.state import LiveState
from hsmsync_files.statefile import locked, read_state_file, write_state_file

T = TypeVar("T")


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)  # writers rename a new file into place


def _read_with_stamp(path: Path) -> tuple[LiveState, tuple[int, int, int] | None]:
    """The state and the stamp of the file it came from, without the lock (writes are atomic)."""
    while True:
        before = _stamp(path)
        state = read_state_file(path)
        after = _stamp(path)
        if before == after:
            return state, after


class Store:
    """With `persist_interval` (seconds), changes are written at most that often by a background
    thread and on `flush()`, instead of after every change: for large benchmark fleets, where
    rewriting a many-megabyte file per change would make the emulator the bottleneck. Outside
    edits are then only picked up while nothing is waiting to be written."""

    def __init__(self, path: Path, *, persist_interval: float | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._dirty = False
        self._interval = persist_interval
        self._state, self._seen = _read_with_stamp(path)
        self._closed = threading.Event()
        if persist_interval is not None:
            threading.Thread(target=self._writer, name="emulator-store", daemon=True).start()

    def _writer(self) -> None:
        assert self._interval is not None
        while not self._closed.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._dirty:
                with locked(self.path):
                    write_state_file(self.path, self._state)
                    self._seen = _stamp(self.path)
                self._dirty = False

    def close(self) -> None:
        self._closed.set()
        self.flush()

    def _refresh(self) -> None:
        if self._dirty:
            return
        stamp = _stamp(self.path)
        if stamp is not None and stamp != self._seen:
            self._state, self._seen = _read_with_stamp(self.path)

    def read(self) -> LiveState:
        with self._lock:
            self._refresh()
            return self._state

    def update(self, change: Callable[[LiveState], tuple[LiveState, T]]) -> T:
        """Apply `change` to the current state; persist the new state if it differs."""
        with self._lock:
            self._refresh()
            new, result = change(self._state)
            if new is not self._state and new != self._state:
                self._state = new
                if self._interval is None:
                    with locked(self.path):
                        write_state_file(self.path, new)
                        self._seen = _stamp(self.path)
                else:
                    self._dirty = True
            return result
