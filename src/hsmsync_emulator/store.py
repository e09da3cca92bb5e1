"""The emulator's store: a `LiveState` in memory, persisted to the state file after every change.

Changes made to the file by someone else (a test simulating drift, `hsmsync apply --state`) are
picked up: before each operation the store compares the file's stamp with the one it last saw.
Reading takes no lock (writers rename complete files into place); writing does.

With `history_seconds`, the store also keeps the states of the last that many seconds, so a region
that lags (`replica.py`) can be served the state as it was `age` seconds ago (`read_as_of`).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

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


class StateStore(Protocol):
    """What a service reads and changes: the store itself, or one region's view of it."""

    def read(self) -> LiveState: ...

    def update(self, change: Callable[[LiveState], tuple[LiveState, T]]) -> T: ...


class Store:
    """With `persist_interval` (seconds), changes are written at most that often by a background
    thread and on `flush()`, instead of after every change: for large benchmark fleets, where
    rewriting a many-megabyte file per change would make the emulator the bottleneck. Outside
    edits are then only picked up while nothing is waiting to be written."""

    def __init__(
        self,
        path: Path,
        *,
        persist_interval: float | None = None,
        history_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._dirty = False
        self._interval = persist_interval
        self._state, self._seen = _read_with_stamp(path)
        self._clock = clock
        self._keep = history_seconds
        # (since when, state): the state loaded at start has held since forever.
        self._history: list[tuple[float, LiveState]] = [(-math.inf, self._state)]
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
            self._remember()  # an edit of the file by someone else is a write like any other

    def _remember(self) -> None:
        if self._keep <= 0:
            return
        now = self._clock()
        self._history.append((now, self._state))
        # Keep the newest state older than the window (it is what the window's start sees).
        horizon = now - self._keep
        first = max(i for i, (since, _) in enumerate(self._history) if since <= horizon or i == 0)
        del self._history[:first]

    def read(self) -> LiveState:
        with self._lock:
            self._refresh()
            return self._state

    def read_as_of(self, age: float) -> LiveState:
        """The state as it was `age` seconds ago (within `history_seconds`; older is not kept)."""
        with self._lock:
            self._refresh()
            if age <= 0 or self._keep <= 0:
                return self._state
            moment = self._clock() - age
            older = (state for since, state in reversed(self._history) if since <= moment)
            return next(older, self._history[0][1])

    def update(self, change: Callable[[LiveState], tuple[LiveState, T]]) -> T:
        """Apply `change` to the current state; persist the new state if it differs."""
        with self._lock:
            self._refresh()
            new, result = change(self._state)
            if new is not self._state and new != self._state:
                self._state = new
                self._remember()
                if self._interval is None:
                    with locked(self.path):
                        write_state_file(self.path, new)
                        self._seen = _stamp(self.path)
                else:
                    self._dirty = True
            return result
