"""The command line: `parser` (arguments; shared options in `options`), one module per command in
`commands/`, each calling `hsmsync.workflow` and a renderer, and `main`, the one place an outcome
becomes an exit status (`status.ExitStatus`)."""

from __future__ import annotations

from hsmsync.cli.main import main
from hsmsync.cli.parser import build_parser
from hsmsync.cli.status import ExitStatus

__all__ = ["ExitStatus", "build_parser", "main"]
