"""CLI command handlers kept outside cli.py, registered there with `add_*_parsers` and `*_COMMANDS`."""

from __future__ import annotations

from hsmsync.commands.export import COMMANDS as EXPORT_COMMANDS
from hsmsync.commands.export import add_parsers as add_export_parsers
from hsmsync.commands.review import COMMANDS as REVIEW_COMMANDS
from hsmsync.commands.review import add_parsers as add_review_parsers
from hsmsync.commands.show import COMMANDS as SHOW_COMMANDS
from hsmsync.commands.show import add_full_plan_url
from hsmsync.commands.show import add_parsers as add_show_parsers

__all__ = [
    "EXPORT_COMMANDS",
    "REVIEW_COMMANDS",
    "SHOW_COMMANDS",
    "add_export_parsers",
    "add_full_plan_url",
    "add_review_parsers",
    "add_show_parsers",
]
