"""`hsmsync validate`: check manifests (one or several, as a pre-commit hook passes them) and exit."""

from __future__ import annotations

import argparse
from pathlib import Path

from hsmsync.cli import ci
from hsmsync.cli.context import Context
from hsmsync.cli.options import MANIFEST_HELP, add_format, add_manifest
from hsmsync.cli.progress import error_line
from hsmsync.cli.status import ExitStatus
from hsmsync.core.errors import ManifestError
from hsmsync.workflow import DEFAULT_MANIFEST, load


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="check manifests and exit (exit 1 if any is invalid)")
    add_manifest(p, MANIFEST_HELP, default=None)
    p.add_argument("files", nargs="*", type=Path, metavar="FILE", help="more manifests, each checked")
    add_format(p, ["text", "json"])


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    """Check each manifest on its own and report every one; exit 1 if any is invalid."""
    env = ctx.env
    named = ([args.file] if args.file else []) + list(args.files) or [DEFAULT_MANIFEST]
    if args.format == "json":
        return ExitStatus.OK if ci.validate_json(named, env) else ExitStatus.ERROR
    invalid = 0
    for path in named:
        try:
            d = load(path, env).desired
        except ManifestError as exc:  # reported as main() reports an error, then the next file
            env.stderr.write(error_line(f"error: {exc}", args.log_format))
            env.stderr.write(ci.manifest_annotations(exc, env))
            invalid += 1
            continue
        env.stdout.write(
            f"{path}: valid ({len(d.principals)} principals, {len(d.hsms)} HSMs, "
            f"{len(d.assignments)} assignments)\n"
        )
        for warning in d.warnings:  # accepted, but said (e.g. a role only the HSM can confirm)
            env.stderr.write(f"warning: {path}: {warning}\n")
    return ExitStatus.ERROR if invalid else ExitStatus.OK
