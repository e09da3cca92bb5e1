"""Progress of the two long phases, discovery and apply, on stderr.

- a terminal (and not CI): a `rich` progress bar per phase;
- CI (`CI` set) or piped: a plain line every `interval` seconds and one when the phase ends;
- `--quiet`: nothing. `-v`: every API call is logged (logger `hsmsync.api`; method, URL, status,
  time — never a header, so never a token), `-vv` adds debug records.

Hooks are called from worker threads; everything here is guarded by one lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from hsmsync.core.plan import Change
from hsmsync.core.results import ChangeResult, ChangeStatus

DEFAULT_INTERVAL = 10.0


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: time (UTC), level, logger, message and the
    structured fields a record carries (an API call's method, URL, status, duration, request id).
    Records never hold a header or a body, so never a token."""

    FIELDS = ("method", "url", "status", "ms", "request_id", "phase", "done", "total")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        return json.dumps(out, sort_keys=True)


def error_line(text: str, log_format: str) -> str:
    """The final error as a stderr line: `error: …`, or a JSON record with `--log-format json`."""
    if log_format != "json":
        return text + "\n"
    record = logging.LogRecord("hsmsync", logging.ERROR, "", 0, text.removeprefix("error: "), None, None)
    return JsonLogFormatter().format(record) + "\n"


class Mode(StrEnum):
    OFF = "off"
    LINES = "lines"
    BAR = "bar"


def choose_mode(stream: TextIO, environ: Mapping[str, str], *, quiet: bool) -> Mode:
    if quiet:
        return Mode.OFF
    ci = environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    isatty = getattr(stream, "isatty", None)
    tty = bool(isatty()) if callable(isatty) else False
    return Mode.BAR if tty and not ci and environ.get("TERM") != "dumb" else Mode.LINES


class _Phase:
    def __init__(self, name: str, unit: str, started: float) -> None:
        self.name, self.unit, self.started = name, unit, started
        self.total = 0
        self.done = 0
        self.counts: dict[ChangeStatus, int] = {}
        self.last_line = started
        self.task: Any = None


class Progress:
    """Discovery hooks (for the live backend) and apply hooks (for the applier) in one object."""

    def __init__(
        self,
        stream: TextIO,
        mode: Mode,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        log_format: str = "text",
    ) -> None:
        self.stream = stream
        self.log_format = log_format
        self.mode = mode
        self.interval = interval
        self._clock = clock
        self._lock = threading.RLock()
        self._phase: _Phase | None = None
        self._bar: Any = None
        self._effect_line: float | None = None  # when the last "waiting to take effect" line went out

    # -- phases -----------------------------------------------------------------------------------

    def _begin(self, name: str, unit: str, total: int) -> None:
        with self._lock:
            self._end()
            phase = self._phase = _Phase(name, unit, self._clock())
            phase.total = total
            if self.mode is Mode.BAR:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
                from rich.progress import Progress as Bar

                self._bar = Bar(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn(unit),
                    TimeElapsedColumn(),
                    console=Console(file=self.stream),
                )
                self._bar.start()
                phase.task = self._bar.add_task(name, total=total or None)

    def _end(self) -> None:
        phase, self._phase = self._phase, None
        if phase is None:
            return
        if self._bar is not None:
            self._bar.update(phase.task, total=phase.total, completed=phase.done)
            self._bar.stop()
            self._bar = None
        elif self.mode is Mode.LINES:
            self._line(phase, final=True)

    def _advance(self, total: int, done: int) -> None:
        phase = self._phase
        if phase is None:
            return
        phase.total += total
        phase.done += done
        if self._bar is not None:
            self._bar.update(phase.task, total=phase.total or None, completed=phase.done)
        elif self.mode is Mode.LINES and self._clock() - phase.last_line >= self.interval:
            self._line(phase, final=False)

    def _line(self, phase: _Phase, *, final: bool) -> None:
        now = self._clock()
        phase.last_line = now
        elapsed = now - phase.started
        if final:
            text = f"{phase.name}: {phase.done} {phase.unit} in {elapsed:.1f}s"
        else:
            pct = f" ({100 * phase.done // phase.total}%)" if phase.total else ""
            text = f"{phase.name}: {phase.done} of {phase.total} {phase.unit}{pct}, {elapsed:.0f}s"
        if phase.counts:
            counts = sorted(phase.counts.items())
            text += " — " + ", ".join(f"{n} {s.value.replace('_', ' ')}" for s, n in counts)
        if self.log_format == "json":
            record = logging.LogRecord("hsmsync.progress", logging.INFO, "", 0, text, None, None)
            record.phase, record.done, record.total = phase.name, phase.done, phase.total
            self.stream.write(JsonLogFormatter().format(record) + "\n")
        else:
            self.stream.write(f"hsmsync: {text}\n")
        self.stream.flush()

    # -- discovery (the live backend calls these) -------------------------------------------------

    def discovery_started(self, hsms: int) -> None:
        if self.mode is not Mode.OFF:
            self._begin("discovery", "list calls", 0)

    def discovery_progress(self, total: int, done: int) -> None:
        with self._lock:
            self._advance(total, done)

    def discovery_finished(self) -> None:
        with self._lock:
            self._end()

    # -- apply (the CLI frames it; the applier calls the change hooks) ----------------------------

    def apply_started(self, total: int) -> None:
        if self.mode is not Mode.OFF and total:
            self._begin("apply", "changes", total)

    def change_started(self, change: Change) -> None:
        """Nothing to show until the change is done."""

    def change_finished(self, result: ChangeResult) -> None:
        with self._lock:
            if self._phase is not None:
                self._phase.counts[result.status] = self._phase.counts.get(result.status, 0) + 1
            self._advance(0, 1)

    def apply_finished(self) -> None:
        with self._lock:
            self._end()

    def effect_waiting(self, pending: int, checked: int, waited: float, bound: float) -> None:
        """A visible wait: the first line at once, then one every `interval` seconds."""
        with self._lock:
            if self.mode is Mode.OFF:
                return
            now = self._clock()
            if self._effect_line is not None and now - self._effect_line < self.interval:
                return
            self._effect_line = now
            text = (
                f"waiting for changes to take effect: {pending} of {checked} not yet seen in every "
                f"region, {waited:.0f}s of at most {bound:g}s"
            )
            if self.log_format == "json":
                record = logging.LogRecord("hsmsync.progress", logging.INFO, "", 0, text, None, None)
                record.phase, record.done, record.total = "effect", checked - pending, checked
                self.stream.write(JsonLogFormatter().format(record) + "\n")
            else:
                self.stream.write(f"hsmsync: {text}\n")
            self.stream.flush()

    def close(self) -> None:
        with self._lock:
            self._end()


@contextlib.contextmanager
def feedback(
    stream: TextIO,
    environ: Mapping[str, str],
    *,
    quiet: bool = False,
    verbose: int = 0,
    log_format: str = "text",
) -> Iterator[Progress]:
    """Progress on `stream` for one command, and with `-v` API call logging to it, removed after.
    `log_format="json"`: log records and progress lines as JSON lines (no progress bar)."""
    mode = choose_mode(stream, environ, quiet=quiet)
    if log_format == "json" and mode is Mode.BAR:
        mode = Mode.LINES
    progress = Progress(stream, mode, log_format=log_format)
    handler: logging.Handler | None = None
    logger = logging.getLogger("hsmsync")
    old_level = logger.level
    if verbose > 0:
        handler = logging.StreamHandler(stream)
        text_format = logging.Formatter("%(asctime)s %(name)s %(message)s")
        handler.setFormatter(JsonLogFormatter() if log_format == "json" else text_format)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    try:
        yield progress
    finally:
        progress.close()
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
