"""The argument parser: global options here, each command's own in its module, shared ones in
`options.py`."""

from __future__ import annotations

import argparse

from hsmsync import __version__
from hsmsync.cli.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    # No abbreviated options anywhere: `--auto` must not be read as `--auto-approve`.
    parser = argparse.ArgumentParser(
        prog="hsmsync", description="Manage Managed HSM access as code.", allow_abbrev=False
    )
    parser.add_argument("--version", action="version", version=f"hsmsync {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="json: log and progress lines on stderr as JSON objects, one per line (for log shippers)",
    )
    # Commands without -q/-v (options.add_feedback) run with these.
    parser.set_defaults(quiet=False, verbose=0)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(sub)
    for command_parser in sub.choices.values():
        command_parser.allow_abbrev = False
    return parser
