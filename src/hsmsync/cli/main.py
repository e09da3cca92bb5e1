"""`main`: run one command, and THE one place an outcome becomes an exit status.

Nothing escapes: an HsmsyncError is exit 1 with its message; a usage error 1 (never 2, which
means "changes"); Ctrl-C or SIGTERM 130; a reader that went away (`| head`) 141, quietly; any
other exception 3, with the traceback under --debug.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
from collections.abc import Sequence

from hsmsync.cli import ci
from hsmsync.cli.commands import COMMANDS
from hsmsync.cli.context import Context
from hsmsync.cli.parser import build_parser
from hsmsync.cli.progress import error_line, feedback
from hsmsync.cli.status import ExitStatus
from hsmsync.core.errors import HsmsyncError, ManifestError
from hsmsync.environment import Environment, sigterm_as_interrupt


def main(argv: Sequence[str] | None = None, *, env: Environment | None = None) -> int:
    """Run one command; the exit status. Output that could not be written decides it too:
    a reader that went away (`| head`) turns success into OUTPUT_CUT, quietly; any other
    write error is an error."""
    own_process = env is None
    try:
        env = env or Environment.of_process()
    except OSError as exc:  # e.g. the current directory was removed
        sys.stderr.write(f"error: {exc.strerror or exc}\n")
        return ExitStatus.ERROR
    with sigterm_as_interrupt() if own_process else contextlib.nullcontext():
        status = _parse_and_run(argv, env)
    gone, failure = env.output_lost()
    if failure is not None:
        env.stderr.write(f"error: cannot write output: {failure}\n")
        return status if status not in (ExitStatus.OK, ExitStatus.CHANGES) else ExitStatus.ERROR
    if gone and status == ExitStatus.OK:
        return ExitStatus.OUTPUT_CUT
    return status


def _parse_and_run(argv: Sequence[str] | None, env: Environment) -> ExitStatus:
    try:
        # argparse prints help and usage errors itself: through env's streams, which a closed
        # pipe cannot break.
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors, which are errors: 1, never 2
        return ExitStatus.OK if exc.code in (0, None) else ExitStatus.ERROR
    return _run(args, env)


def _run(args: argparse.Namespace, env: Environment) -> ExitStatus:
    """The command's status, or the status of what it raised."""
    try:
        with feedback(
            env.stderr, env.environ, quiet=args.quiet, verbose=args.verbose, log_format=args.log_format
        ) as progress:
            return COMMANDS[args.command].run(args, Context(env, progress, args.debug))
    except HsmsyncError as exc:
        env.stderr.write(error_line(f"error: {exc}", args.log_format))
        if isinstance(exc, ManifestError):  # in GitHub Actions, also an annotation per error line
            env.stderr.write(ci.manifest_annotations(exc, env))
        return ExitStatus.ERROR
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (see environment.sigterm_as_interrupt)
        env.stderr.write("interrupted\n")
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors are turned into an exit code
        env.stderr.write(f"unexpected error: {type(exc).__name__}: {exc}\n")
        Context(env, debug=args.debug).traceback_hint(traceback.format_exc())
        return ExitStatus.UNEXPECTED
