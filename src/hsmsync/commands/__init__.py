"""CLI command handlers kept outside cli.py, registered there with `add_*_parsers` and `*_COMMANDS`."""

from __future__ import annotations

from hsmsync.commands.export import COMMANDS as EXPORT_COMMANDS
from hsmsync.commands.export import add_parsers as add_export_parsers
from hsmsync.commands.review import COMMANDS as REVIEW_COMMANDS
from hsmsync.commands.review import add_parsers as add_review_parsers

__all__ = ["EXPORT_COMMANDS", "REVIEW_COMMANDS", "add_export_parsers", "add_review_parsers"]
