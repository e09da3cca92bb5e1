"""CLI command handlers kept outside cli.py, registered there with `add_*_parsers` and `*_COMMANDS`."""

from __future__ import annotations

from hsmsync.commands.review import COMMANDS as REVIEW_COMMANDS
from hsmsync.commands.review import add_parsers as add_review_parsers

__all__ = ["REVIEW_COMMANDS", "add_review_parsers"]
