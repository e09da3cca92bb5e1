"""What every command gets besides its arguments: the environment and the progress reporter."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hsmsync.applier import ApplyReporter
from hsmsync.backends.base import DiscoveryReporter
from hsmsync.cli.status import ExitStatus
from hsmsync.environment import Environment


class Reporter(DiscoveryReporter, ApplyReporter, Protocol):
    """What the commands tell about the two long phases, discovery and apply (`progress.Progress`
    shows it on stderr)."""

    def apply_started(self, total: int) -> None: ...

    def apply_finished(self) -> None: ...


@dataclass(frozen=True)
class Context:
    env: Environment
    progress: Reporter | None = None  # None: nothing reports progress (tests, embedding)
    debug: bool = False  # --debug: show tracebacks of unexpected errors

    def traceback_hint(self, trace: str) -> None:
        """After an unexpected error: the traceback with --debug, else how to get it."""
        if self.debug:
            self.env.stderr.write(trace)
        else:
            self.env.stderr.write("run with --debug for the traceback, and please report it\n")


Run = Callable[[argparse.Namespace, Context], ExitStatus]
