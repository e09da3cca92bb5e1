"""`hsmsync roles`: list the role catalog."""

from __future__ import annotations

import argparse
import json

from hsmsync.cli.context import Context
from hsmsync.cli.options import add_format
from hsmsync.cli.status import ExitStatus
from hsmsync.core.catalog import builtin_data_roles, definition_to_rest, management_roles

DATA_PREFIX = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"
MANAGEMENT_PREFIX = "/providers/Microsoft.Authorization/roleDefinitions/"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("roles", help="list the role catalog")
    add_format(p, ["text", "json"])
    p.add_argument("--plane", choices=["data", "management", "all"], default="all")


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    groups = []
    if args.plane in ("data", "all"):
        groups.append(("data", builtin_data_roles(), DATA_PREFIX))
    if args.plane in ("management", "all"):
        groups.append(("management", management_roles(), MANAGEMENT_PREFIX))
    out = ctx.env.stdout
    if args.format == "json":
        items = [definition_to_rest(r, id_prefix=prefix) for _, roles, prefix in groups for r in roles]
        out.write(json.dumps(items, indent=2) + "\n")
        return ExitStatus.OK
    for plane, roles, _ in groups:
        out.write(f"{plane} plane:\n")
        for r in sorted(roles, key=lambda r: r.role_name):
            out.write(f"  {r.name}  {r.role_name}\n")
            for i, block in enumerate(r.permissions):
                if len(r.permissions) > 1:  # blocks are evaluated apart; show where each list belongs
                    out.write(f"    block {i + 1}:\n")
                out.write("".join(f"      {a}\n" for a in block.data_actions))
                out.write("".join(f"      not {a}\n" for a in block.not_data_actions))
    return ExitStatus.OK
