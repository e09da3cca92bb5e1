"""What the review commands (`lint`, `whocan`, `explain`) share: their options, and the two
headings that set what the manifest would grant apart from what live state holds.

Without `--state`/`--live` they answer from the manifest (what would be); with either they also
read live state (what is), naming principals from the manifest.
"""

from __future__ import annotations

import argparse

from hsmsync.cli.options import MANIFEST_HELP, REVIEW_SOURCE_HELP, add_manifest, add_source

WOULD_BE = "According to the manifest (what would be):"
IS_NOW = "In live state (what is):"


def add_review_options(p: argparse.ArgumentParser) -> None:
    add_manifest(p, MANIFEST_HELP)
    add_source(p, *REVIEW_SOURCE_HELP)
