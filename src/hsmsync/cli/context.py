"""What every command gets besides its arguments: the environment and the progress reporter."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from hsmsync.cli.progress import Progress
from hsmsync.cli.status import ExitStatus
from hsmsync.environment import Environment


@dataclass(frozen=True)
class Context:
    env: Environment
    progress: Progress | None = None  # None: nothing reports progress (tests, quiet embedding)
    debug: bool = False  # --debug: show tracebacks of unexpected errors

    def traceback_hint(self, trace: str) -> None:
        """After an unexpected error: the traceback with --debug, else how to get it."""
        if self.debug:
            self.env.stderr.write(trace)
        else:
            self.env.stderr.write("run with --debug for the traceback, and please report it\n")


Run = Callable[[argparse.Namespace, Context], ExitStatus]
