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
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from hsmsync.backends.base import HsmRef, ReadRequest, StateBackend, VaultRef
from hsmsync.cli.context import Context
from hsmsync.cli.options import add_manifest, add_source, add_targets, manifest_of, source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.errors import BackendError, HsmsyncError
from hsmsync.core.export import export_manifest
from hsmsync.core.model import Manifest
from hsmsync.core.scopes import normalize_arm_scope
from hsmsync.core.shard import parse_selection, select_live
from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import DirectoryObject
from hsmsync.environment import Environment
from hsmsync.render.escape import visible
from hsmsync.workflow import DEFAULT_MANIFEST, absolute, load, opened_backend
from hsmsync_files.textfiles import write_output_file

# A path relative to the exported file: no site publishes the schema, so it is written next to it.
HEADER = (
    "# yaml-language-server: $schema=hsmsync.schema.json\n"
    "# (editor validation: `hsmsync schema manifest > hsmsync.schema.json` next to this file)\n"
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write a manifest that declares what exists")
    add_source(p, "export a fake state file", "export from Azure: the HSMs and vaults of -f", required=True)
    add_manifest(
        p,
        "manifest: with --live names the HSMs and vaults (default hsmsync.yaml); with either, "
        "its principals' keys, types and names are used",
        default=None,
    )
    p.add_argument("--hsm", action="append", metavar="NAME", help="only this HSM (repeatable)")
    add_targets(p)
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
    if args.file is None and not args.live:
        return None
    return load(manifest_of(args), env).manifest


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
        data_settings=frozenset(h.name for h in hsms),
        data_settings_if_readable=True,  # without settings/read the rest is still exported
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

    endpoints = absolute(args.endpoints, env) if args.endpoints is not None else None
    try:
        with open_graph(
            endpoints=endpoints, environ=env.environ, allow_hosts=args.allow_host, auth=args.auth
        ) as graph:
            return graph.get_by_ids(wanted), []
    except (BackendError, HsmsyncError) as exc:
        return (), [f"principals not named: {exc}"]


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env = ctx.env
    with opened_backend(source_of(args), env) as backend:
        manifest = _manifest(args, env)
        live, directory, graph_notes = _read(args, env, backend, manifest)
        source = backend.describe()
    if args.target:
        live = select_live(live, parse_selection(args.target, live))
    try:
        export = export_manifest(live, hsms=args.hsm, directory=directory, principals=_principals(manifest))
    except ValueError as exc:
        raise HsmsyncError(str(exc)) from None
    # Notes and the source carry names from Azure: `visible` keeps each on its comment line.
    notes = "".join(f"# note: {visible(n)}\n" for n in [*graph_notes, *export.notes])
    text = HEADER + f"# exported by hsmsync from {visible(source)}\n" + notes
    text += yaml.safe_dump(export.document, sort_keys=False, default_flow_style=False, width=120)
    if args.output:
        write_output_file(absolute(args.output, env), text, "the exported manifest", display=args.output)
    else:
        env.stdout.write(text)
    return ExitStatus.OK


def _read(
    args: argparse.Namespace, env: Environment, backend: StateBackend, manifest: Manifest | None
) -> tuple[LiveState, tuple[DirectoryObject, ...], list[str]]:
    """Live state, and Microsoft Graph's names for its principals (with --live)."""
    if args.state:
        return backend.read_state(ReadRequest((), (), (), {})), (), []
    assert manifest is not None
    try:
        request = _live_request(manifest)
    except ValueError as exc:  # a resource id or scope that is not an ARM scope
        raise HsmsyncError(f"{args.file or DEFAULT_MANIFEST}: {exc}") from None
    live = backend.read_state(request)
    directory, graph_notes = _graph_names(args, env, _object_ids(live), _principals(manifest))
    return live, directory, [*backend.unread(), *graph_notes]
