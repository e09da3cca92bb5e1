"""`hsmsync export`: write a manifest from what exists (brownfield adoption).

From a state file: every HSM and vault in it. From Azure (`--live`): the HSMs and vaults named by
a manifest (`-f`, which may hold only `version`, `hsms` and `vaults`), with their role
assignments, custom roles, settings, logging, access policies, and the Azure RBAC assignments at
their resource and resource-group scopes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import yaml

from hsmsync.backends.base import HsmRef, ReadRequest, VaultRef
from hsmsync.backends.registry import open_backend
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.export import export_manifest
from hsmsync.core.state import LiveState
from hsmsync.environment import Environment
from hsmsync.manifest import load_manifest

Handler = Callable[[argparse.Namespace, Environment], int]
HEADER = "# yaml-language-server: $schema=https://hsmsync.dev/schemas/hsmsync.schema.json\n"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write a manifest that declares what exists")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--state", type=Path, help="export a fake state file")
    src.add_argument("--live", action="store_true", help="export from Azure: the HSMs and vaults of -f")
    p.add_argument(
        "-f", "--file", type=Path, default=Path("hsmsync.yaml"), help="with --live: names the HSMs"
    )
    p.add_argument("--endpoints", type=Path, help="endpoints file of a local emulator (with --live)")
    p.add_argument("--hsm", action="append", metavar="NAME", help="only this HSM (repeatable)")
    p.add_argument("-o", "--output", type=Path, help="write here instead of standard output")


def _arm_scopes(resource_ids: list[str]) -> tuple[str, ...]:
    scopes: set[str] = set()
    for rid in resource_ids:
        scopes.add(rid)
        parts = rid.split("/")
        if len(parts) > 4:
            scopes.add("/".join(parts[:5]))  # /subscriptions/<s>/resourceGroups/<rg>
    return tuple(sorted(scopes, key=str.lower))


def _live_request(args: argparse.Namespace, env: Environment) -> ReadRequest:
    path = args.file if args.file.is_absolute() else env.cwd / args.file
    m = load_manifest(path, display=args.file).manifest
    hsms = tuple(HsmRef(n, h.url.rstrip("/"), h.resource_id) for n, h in sorted(m.hsms.items()))
    vaults = tuple(VaultRef(n, v.url.rstrip("/"), v.resource_id) for n, v in sorted(m.vaults.items()))
    return ReadRequest(
        hsms=hsms,
        arm_scopes=_arm_scopes([h.resource_id for h in hsms] + [v.resource_id for v in vaults]),
        principal_ids=(),
        key_scopes={},
        full_discovery=frozenset([*(h.name for h in hsms), "arm"]),
        vaults=vaults,
    )


def cmd_export(args: argparse.Namespace, env: Environment) -> int:
    backend = open_backend(state=args.state, endpoints=args.endpoints, environ=env.environ, cwd=env.cwd)
    if args.state:
        live: LiveState = backend.read_state(ReadRequest((), (), (), {}))
    else:
        live = backend.read_state(_live_request(args, env))
    try:
        export = export_manifest(live, hsms=args.hsm)
    except ValueError as exc:
        raise HsmsyncError(str(exc)) from None
    notes = "".join(f"# note: {n}\n" for n in export.notes)
    text = HEADER + f"# exported by hsmsync from {backend.describe()}\n" + notes
    text += yaml.safe_dump(export.document, sort_keys=False, default_flow_style=False, width=120)
    if args.output:
        (args.output if args.output.is_absolute() else env.cwd / args.output).write_text(
            text, encoding="utf-8"
        )
    else:
        env.stdout.write(text)
    return 0


COMMANDS: dict[str, Handler] = {"export": cmd_export}
