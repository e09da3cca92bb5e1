"""`hsmsync emulator`: serve a state file as a local Managed HSM + ARM emulator."""

from __future__ import annotations

import argparse
from pathlib import Path

from hsmsync.cli.context import Context
from hsmsync.cli.status import ExitStatus
from hsmsync.workflow import absolute


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("emulator", help="serve a state file as a local Managed HSM + ARM emulator")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--port", type=_port, default=0, help="0-65535 (default 0: any free port)")
    p.add_argument("--endpoints-out", type=Path)
    p.add_argument("--faults", help="e.g. latency=20ms,429=0.1,500=0.05,drop=0.02,seed=7,throttle=5")
    p.add_argument(
        "--replica",
        help="a second region that lags, e.g. lag=6m,share=0.5,delay=2s[,seed=7][,hsm=NAME+NAME]: "
        "writes reach it after `lag`, it serves `share` of RBAC reads; `delay`: the primary's own "
        "propagation delay after its 201",
    )


def _port(text: str) -> int:
    """A TCP port (0: any free one), checked while parsing: a usage error, not a failed bind."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    from hsmsync_emulator import ServeSpecs, run_emulator_cli  # loaded only for this command

    env = ctx.env
    specs = ServeSpecs(faults=args.faults, replica=args.replica)
    code = run_emulator_cli(absolute(args.state, env), args.port, args.endpoints_out, specs, env.stdout)
    return ExitStatus(code)
