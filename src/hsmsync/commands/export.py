"""`hsmsync export`: write a manifest from what exists (brownfield adoption).

From a state file: every HSM and vault in it. From Azure (`--live`): the HSMs and vaults named by
a manifest (`-f`, which may hold only `version`, `hsms` and `vaults`), with their role
assignments, custom roles, settings, logging, access policies, and every Azure RBAC assignment
that reaches them: at the resources, their resource groups and subscriptions, the manifest's own
management scopes, and inherited from above (management groups). Principals are named by the
manifest (`-f`, also with `--state`), then by Microsoft Graph (`--live`) or the state file's
directory.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import yaml

from hsmsync.backends.base import HsmRef, ReadRequest, VaultRef
from hsmsync.backends.registry import add_allow_host_option, open_backend_for
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.errors import BackendError, HsmsyncError
from hsmsync.core.export import export_manifest
from hsmsync.core.model import Manifest
from hsmsync.core.scopes import normalize_arm_scope
from hsmsync.core.state import DirectoryObject, LiveState
from hsmsync.environment import Environment
from hsmsync.manifest import load_manifest
from hsmsync.render.escape import visible
from hsmsync_files.textfiles import write_output_file

Handler = Callable[[argparse.Namespace, Environment], int]
HEADER = "# yaml-language-server: $schema=https://hsmsync.dev/schemas/hsmsync.schema.json\n"
DEFAULT_MANIFEST = Path("hsmsync.yaml")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write a manifest that declares what exists")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--state", type=Path, help="export a fake state file")
    src.add_argument("--live", action="store_true", help="export from Azure: the HSMs and vaults of -f")
    p.add_argument(
        "-f",
        "--file",
        type=Path,
        help="manifest: with --live names the HSMs and vaults (default hsmsync.yaml); with either, "
        "its principals' keys, types and names are used",
    )
    p.add_argument("--endpoints", type=Path, help="endpoints file of a local emulator (with --live)")
    add_allow_host_option(p)
    p.add_argument("--hsm", action="append", metavar="NAME", help="only this HSM (repeatable)")
    p.add_argument("-o", "--output", type=Path, help="write here instead of standard output")


def _arm_scopes(resource_ids: Iterable[str], declared: Iterable[str]) -> tuple[str, ...]:
    """Each resource, its resource group and subscription, and the manifest's management scopes."""
    scopes: dict[str, str] = {}
    for rid in resource_ids:
        parts = normalize_arm_scope(rid).split("/")
        for cut in (
            len(parts),
            5,
            3,
        ):  # the resource, /subscriptions/<s>/resourceGroups/<rg>, /subscriptions/<s>
            if len(parts) >= cut:
                scope = "/".join(parts[:cut])
                scopes.setdefault(scope.lower(), scope)
    for scope in declared:
        scopes.setdefault(scope.lower(), scope)
    return tuple(sorted(scopes.values(), key=str.lower))


def _manifest(args: argparse.Namespace, env: Environment) -> Manifest | None:
    path: Path | None = args.file if args.file is not None else (DEFAULT_MANIFEST if args.live else None)
    if path is None:
        return None
    return load_manifest(path if path.is_absolute() else env.cwd / path, display=path).manifest


def _live_request(m: Manifest) -> ReadRequest:
    hsms = tuple(HsmRef(n, h.url.rstrip("/"), h.resource_id) for n, h in sorted(m.hsms.items()))
    vaults = tuple(VaultRef(n, v.url.rstrip("/"), v.resource_id) for n, v in sorted(m.vaults.items()))
    declared = [normalize_arm_scope(g.scope) for t in m.teams.values() for g in t.management]
    return ReadRequest(
        hsms=hsms,
        arm_scopes=_arm_scopes([h.resource_id for h in hsms] + [v.resource_id for v in vaults], declared),
        principal_ids=(),
        key_scopes={},
        full_discovery=frozenset(h.name for h in hsms),
        arm_full_discovery=True,
        vaults=vaults,
        arm_inherited=True,
    )


def _principals(m: Manifest | None) -> dict[str, PrincipalInfo]:
    """The manifest's principals with an id, by id."""
    if m is None:
        return {}
    return {
        str(p.id).lower(): PrincipalInfo(key, str(p.id).lower(), p.type, p.name)
        for key, p in m.principals.items()
        if p.id is not None
    }


def _object_ids(live: LiveState) -> set[str]:
    ids = {a.principal_id for h in live.hsms.values() for a in h.role_assignments}
    ids |= {a.principal_id for a in live.arm.role_assignments}
    return ids | {p.object_id for v in live.vaults.values() for p in v.access_policies}


def _graph_names(
    args: argparse.Namespace, env: Environment, ids: set[str], known: Mapping[str, PrincipalInfo]
) -> tuple[tuple[DirectoryObject, ...], list[str]]:
    """Microsoft Graph's names and types for the ids the manifest does not name; a failed lookup
    is a note (the export stays complete, only less well named)."""
    wanted = sorted(ids - set(known))
    if not wanted:
        return (), []
    from hsmsync.backends.azure.graph import open_graph

    endpoints = (
        args.endpoints if args.endpoints is None or args.endpoints.is_absolute() else env.cwd / args.endpoints
    )
    try:
        with open_graph(
            endpoints=endpoints, environ=env.environ, allow_hosts=args.allow_host, auth=args.auth
        ) as graph:
            return graph.get_by_ids(wanted), []
    except (BackendError, HsmsyncError) as exc:
        return (), [f"principals not named: {exc}"]


def cmd_export(args: argparse.Namespace, env: Environment) -> int:
    backend = open_backend_for(args, environ=env.environ, cwd=env.cwd)
    manifest = _manifest(args, env)
    known = _principals(manifest)
    directory: tuple[DirectoryObject, ...] = ()
    graph_notes: list[str] = []
    if args.state:
        live: LiveState = backend.read_state(ReadRequest((), (), (), {}))
    else:
        assert manifest is not None
        try:
            request = _live_request(manifest)
        except ValueError as exc:  # a resource id or scope that is not an ARM scope
            raise HsmsyncError(f"{args.file or DEFAULT_MANIFEST}: {exc}") from None
        live = backend.read_state(request)
        directory, graph_notes = _graph_names(args, env, _object_ids(live), known)
    try:
        export = export_manifest(live, hsms=args.hsm, directory=directory, principals=known)
    except ValueError as exc:
        raise HsmsyncError(str(exc)) from None
    # Notes and the source carry names from Azure: `visible` keeps each on its comment line.
    notes = "".join(f"# note: {visible(n)}\n" for n in [*graph_notes, *export.notes])
    text = HEADER + f"# exported by hsmsync from {visible(backend.describe())}\n" + notes
    text += yaml.safe_dump(export.document, sort_keys=False, default_flow_style=False, width=120)
    if args.output:
        path = args.output if args.output.is_absolute() else env.cwd / args.output
        write_output_file(path, text, "the exported manifest", display=args.output)
    else:
        env.stdout.write(text)
    return 0


COMMANDS: dict[str, Handler] = {"export": cmd_export}
