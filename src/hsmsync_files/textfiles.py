"""Files hsmsync and its emulator read and replace: regular files only, replaced atomically,
nothing left behind.

Reading opens without blocking and checks the file type on the open descriptor, so a FIFO or a
device named as a state file is refused instead of hanging, and invalid UTF-8 is a clear error.

Replacing writes a sibling temp file `.<name>.<12 hex>.tmp` and renames it over the file: readers
see the old or the new content, never half of one. The file keeps its mode (and, where the
process may, its owner and group); a new file gets the mode a plain `open()` would give
(0666 minus the umask), never mkstemp's 0600. A writer killed between creating and renaming its
temp file leaves it behind; `remove_stale_temps` removes such leftovers and is called by writers
that hold the file's lock (so no live writer's temp file is touched). Files written on request
(`plan --out`, `drift --report`, `export -o`) go through `write_output_file`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from hsmsync.core.errors import HsmsyncError

_NEW_FILE_MODE = 0o666  # minus the umask, as open() does


def _file_type(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_regular_text(
    path: Path, what: str, *, display: Path | None = None, error: type[HsmsyncError] = HsmsyncError
) -> str:
    """The UTF-8 text of a regular file; `error` (naming `display` and `what`) for anything else."""
    shown = display or path
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise error(f"{shown}: {what} not found") from None
    except OSError as exc:
        raise error(f"{shown}: cannot read {what}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{shown}: cannot read {what}: it is {_file_type(mode)}, not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read()
    except OSError as exc:
        raise error(f"{shown}: cannot read {what}: {exc.strerror}") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f"invalid byte at line {line}, offset {exc.start}"
        raise error(f"{shown}: {what} is not UTF-8 text ({where})") from None


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{12}}\.tmp")


def remove_stale_temps(path: Path) -> None:
    """Remove temp files a killed writer of `path` left behind. Call only while holding `path`'s lock."""
    pattern = _temp_pattern(path.name)
    with contextlib.suppress(OSError), os.scandir(path.parent) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def replace_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename, keeping the file's mode and owner.

    A symlink is followed: the file it points to is replaced and the link stays.
    """
    target = Path(os.path.realpath(path))
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _NEW_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            if existing is not None:
                _copy_ownership(fh.fileno(), existing)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_output_file(path: Path, text: str, what: str, *, display: Path | None = None) -> None:
    """A file the user asked for (a saved plan, a report, an export), written atomically; an
    HsmsyncError naming the file when it cannot be (a missing directory, a directory in the way)."""
    try:
        replace_atomically(path, text.encode("utf-8"))
    except OSError as exc:
        raise HsmsyncError(f"{display or path}: cannot write {what}: {exc.strerror or exc}") from None


def _copy_ownership(fd: int, existing: os.stat_result) -> None:
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) != (existing.st_uid, existing.st_gid):
        # Root may give the file back to its owner; others may at most change the group.
        try:
            os.fchown(fd, existing.st_uid, existing.st_gid)
        except OSError:
            with contextlib.suppress(OSError):
                os.fchown(fd, -1, existing.st_gid)
    os.fchmod(fd, stat.S_IMODE(existing.st_mode))  # after chown, which may clear setuid/setgid bits
