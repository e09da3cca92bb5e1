"""The fake state file: JSON in the `LiveState` shape, written atomically under a file lock."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from pydantic import ValidationError

from hsmsync.core.errors import StateError
from hsmsync.core.state import LiveState


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextmanager
def locked(path: Path, timeout: float = 30.0) -> Iterator[None]:
    """Hold the state file's lock (other hsmsync processes and the emulator wait)."""
    with FileLock(str(_lock_path(path)), timeout=timeout):
        yield


def read_state_file(path: Path) -> LiveState:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(f"{path}: state file not found") from None
    except OSError as exc:
        raise StateError(f"{path}: cannot read state file: {exc.strerror}") from None
    try:
        return LiveState.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StateError(f"{path}: invalid state file at {where or '(document)'}: {first['msg']}") from None


def write_state_file(path: Path, state: LiveState) -> None:
    """Replace the file atomically: readers see the old or the new state, never half of one."""
    data = state.model_dump(mode="json", exclude_defaults=False)
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
