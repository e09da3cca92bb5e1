"""One module per command, each with `add_parser(sub)` and `run(args, ctx) -> ExitStatus`;
this is the one place they are registered (the order is the order of `hsmsync --help`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from hsmsync.cli.commands import (
    apply,
    drift,
    emulator,
    explain,
    export,
    keys,
    lint,
    matrix,
    migrate,
    plan,
    resolve,
    roles,
    schema,
    show,
    validate,
    whocan,
)
from hsmsync.cli.context import Run


@dataclass(frozen=True)
class Command:
    add_parser: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]
    run: Run


COMMANDS: dict[str, Command] = {
    "validate": Command(validate.add_parser, validate.run),
    "plan": Command(plan.add_parser, plan.run),
    "apply": Command(apply.add_parser, apply.run),
    "drift": Command(drift.add_parser, drift.run),
    "roles": Command(roles.add_parser, roles.run),
    "schema": Command(schema.add_parser, schema.run),
    "emulator": Command(emulator.add_parser, emulator.run),
    "lint": Command(lint.add_parser, lint.run),
    "whocan": Command(whocan.add_parser, whocan.run),
    "explain": Command(explain.add_parser, explain.run),
    "keys": Command(keys.add_parser, keys.run),
    "matrix": Command(matrix.add_parser, matrix.run),
    "resolve": Command(resolve.add_parser, resolve.run),
    "export": Command(export.add_parser, export.run),
    "show": Command(show.add_parser, show.run),
    "migrate": Command(migrate.add_parser, migrate.run),
}
