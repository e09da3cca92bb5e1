"""Exit statuses: the only values a command returns and `main` exits with."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1  # every error, usage errors too: never 2, which means "changes"
    CHANGES = 2  # plan --detailed-exitcode: there are changes; drift: drifted (a refused plan is ERROR)
    UNEXPECTED = 3
    NOT_IN_EFFECT = (
        4  # apply: every change was written, some not yet seen in effect (Azure still replicating)
    )
    INTERRUPTED = 130  # 128 + SIGINT; SIGTERM is reported the same way
    OUTPUT_CUT = 141  # 128 + SIGPIPE: the reader of the output went away (`| head`), as git and coreutils
