"""`hsmsync validate`: check the manifest and exit."""

from __future__ import annotations

import argparse

from hsmsync.cli import ci
from hsmsync.cli.context import Context
from hsmsync.cli.options import add_format, add_manifest
from hsmsync.cli.status import ExitStatus
from hsmsync.workflow import load


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="check the manifest and exit")
    add_manifest(p, "manifest (default: hsmsync.yaml)")
    add_format(p, ["text", "json"])


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env = ctx.env
    if args.format == "json":
        return ExitStatus.OK if ci.validate_json([args.file], env) else ExitStatus.ERROR
    d = load(args.file, env).desired
    env.stdout.write(
        f"{args.file}: valid ({len(d.principals)} principals, {len(d.hsms)} HSMs, "
        f"{len(d.assignments)} assignments)\n"
    )
    return ExitStatus.OK
