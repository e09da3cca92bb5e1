"""The CLI's environment (streams, tty, variables), injectable so tests run the CLI in-process.

The process's own streams are wrapped so that output can be lost without a traceback: a reader
that goes away (`hsmsync plan | head -1`) makes further writes to that stream no-ops and the
command finishes; a closed descriptor (`<&-`, `>&-`, `2>&-`) reads as empty or discards.
`main` then picks the exit status (see `OutputStream`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TextIO, cast

# The reader went away: what SIGPIPE's default action would have reported as 128 + 13.
_GONE = frozenset({errno.EPIPE, errno.ECONNRESET})
# Text at least this long is written to the binary buffer directly (OutputStream._write_all):
# below it, the text stream's own buffer takes it whole.
_DIRECT = 1024


class OutputStream(io.TextIOBase):
    """A text stream that never raises on write or flush.

    `gone`: the reader closed its end (EPIPE); later output is dropped. `failure`: another write
    error (e.g. a full disk), which the CLI reports. The descriptor is pointed at /dev/null once
    output is lost, so the interpreter's final flush cannot complain either.
    """

    def __init__(self, inner: TextIO | None) -> None:
        super().__init__()
        self._inner = inner
        self.gone = False
        self.failure: str | None = None

    @property
    def lost(self) -> bool:
        return self.gone or self.failure is not None

    def _lose(self, exc: OSError) -> None:
        if exc.errno in _GONE:
            self.gone = True
        else:
            self.failure = exc.strerror or str(exc)
        with contextlib.suppress(Exception):
            assert self._inner is not None
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._inner.fileno())
            os.close(devnull)

    def write(self, text: str) -> int:
        if self._inner is not None and not self.lost:
            try:
                self._write_all(self._inner, text)
            except OSError as exc:
                self._lose(exc)
        return len(text)

    @staticmethod
    def _write_all(inner: TextIO, text: str) -> None:
        """All of `text`, or an OSError. A text stream drops what its buffer's `write` did not
        take: a pipe whose reader leaves mid-write takes part of a large write and says so only
        by the count. So large text goes to the binary buffer until it is all taken; the next
        write after the reader left raises EPIPE."""
        binary = getattr(inner, "buffer", None)
        if binary is None or len(text) < _DIRECT:
            inner.write(text)
            return
        inner.flush()
        data = memoryview(text.encode(inner.encoding or "utf-8", inner.errors or "strict"))
        while data:
            data = data[binary.write(data) :]
        if inner.line_buffering:
            binary.flush()

    def flush(self) -> None:
        if self._inner is not None and not self.lost:
            try:
                self._inner.flush()
            except OSError as exc:
                self._lose(exc)

    def isatty(self) -> bool:
        try:
            return self._inner is not None and not self.lost and self._inner.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self._inner is None:
            raise io.UnsupportedOperation("no descriptor")
        return self._inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", None) or "utf-8"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job, `kill`) stops a command as Ctrl-C does: an apply still prints
    its report. The default action would end the process without a word."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _occupy_standard_descriptors() -> None:
    """Put /dev/null on a closed fd 0, 1 or 2, so no file hsmsync opens later lands there."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Environment:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin or io.StringIO(""))
    stdin_isatty: bool = field(default_factory=lambda: _isatty(sys.stdin))
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    # The time expiries are judged at (`expires:` in the manifest); tests pass a fixed one.
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def of_process(cls) -> Environment:
        """The real process's streams, made safe against closed descriptors and vanished readers."""
        _occupy_standard_descriptors()
        return cls(
            stdout=cast(TextIO, OutputStream(sys.stdout)),
            stderr=cast(TextIO, OutputStream(sys.stderr)),
        )

    def output_lost(self) -> tuple[bool, str | None]:
        """(a reader went away, another write error) over stdout and stderr, after flushing them."""
        gone, failure = False, None
        for stream in (self.stdout, self.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
            if isinstance(stream, OutputStream):
                gone = gone or stream.gone
                failure = failure or stream.failure
        return gone, failure
