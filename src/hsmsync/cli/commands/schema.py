"""`hsmsync schema KIND`: print a JSON Schema (inputs and outputs)."""

from __future__ import annotations

import argparse
import json

from hsmsync.cli.context import Context
from hsmsync.cli.status import ExitStatus


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schema", help="print a JSON Schema")
    p.add_argument(
        "kind", nargs="?", choices=["manifest", "state", "plan", "drift", "lint"], default="manifest"
    )


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    from hsmsync.output_schemas import output_schema
    from hsmsync.schemas import manifest_schema, state_schema

    inputs = {"manifest": manifest_schema, "state": state_schema}
    schema = inputs[args.kind]() if args.kind in inputs else output_schema(args.kind)
    ctx.env.stdout.write(json.dumps(schema, indent=2) + "\n")
    return ExitStatus.OK
