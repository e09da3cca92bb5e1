"""`hsmsync resolve`: look up principals given by display name or UPN and pin their ids in the manifest.

    hsmsync resolve [-f FILE] [--live [--endpoints FILE] | --state PATH] [--check]

Names are looked up in Microsoft Graph (`--live`, the default) or in a state file's `directory`
(`--state`). Every principal must resolve to exactly one object, or nothing is written and each
problem is listed (ambiguous names with their candidates). The ids are written in place (see
manifest_edit.py), so comments, order and formatting stay. `--check` looks nothing up and writes
nothing: exit 1 when a principal has no id yet (for CI: what is committed must be pinned).
"""

from __future__ import annotations

import argparse
import codecs
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsync.cli.context import Context
from hsmsync.cli.options import add_manifest, add_source
from hsmsync.cli.status import ExitStatus
from hsmsync.core.errors import HsmsyncError, StateError
from hsmsync.core.model import Manifest, Principal
from hsmsync.environment import Environment
from hsmsync.manifest import parse_structure
from hsmsync.manifest_yaml import decode_manifest, read_manifest_bytes
from hsmsync.principal_names import (
    Directory,
    Found,
    NameProblem,
    StateDirectory,
    decide,
    directory_entries,
    name_queries,
)
from hsmsync.workflow import absolute
from hsmsync_files.statefile import read_state_file
from hsmsync_files.textfiles import replace_atomically

if TYPE_CHECKING:
    from hsmsync.manifest_edit import ManifestDocument


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "resolve", help="look up principals given by name or UPN and write their ids into the manifest"
    )
    add_manifest(p, "manifest (default: hsmsync.yaml)")
    add_source(
        p,
        "look names up in this fake state file's `directory`",
        "look names up in Microsoft Graph (the default)",
    )
    p.add_argument(
        "--check", action="store_true", help="look nothing up, write nothing: exit 1 if a principal has no id"
    )


def _read(path: Path, display: Path) -> tuple[str, str]:
    """The manifest's text exactly as stored (line endings kept) and its newline-normalised form.

    Read and checked as every other command reads a manifest (encoding, YAML, the model), so
    `resolve` refuses exactly what they refuse before ruamel.yaml sees the text.
    """
    raw = read_manifest_bytes(path, display)
    text = decode_manifest(raw, display)
    bom = "\ufeff" if raw.startswith(codecs.BOM_UTF8) else ""  # written back as it was
    return bom + text, text.replace("\r\n", "\n")


def _structure(text: str, display: Path) -> Manifest:
    """The manifest, structurally valid; ids may be missing (that is what resolve is for)."""
    return parse_structure(text, display)[0]


def _directory(args: argparse.Namespace, env: Environment) -> Directory:
    if args.state is not None:
        if args.endpoints is not None:
            raise HsmsyncError("--state and --endpoints exclude each other (the fake backend reads a file)")
        state = read_state_file(absolute(args.state, env))
        if state.directory is None:
            raise StateError(f"{args.state}: the state file has no `directory` to look names up in")
        return StateDirectory(directory_entries(state.directory))
    from hsmsync.backends.azure.graph import open_graph

    return open_graph(
        endpoints=absolute(args.endpoints, env) if args.endpoints else None,
        environ=env.environ,
        allow_hosts=args.allow_host,
        auth=args.auth,
    )


def _report(env: Environment, display: Path, doc: ManifestDocument, problems: Sequence[NameProblem]) -> None:
    ordered = sorted(problems, key=lambda p: doc.line_of(p.key, p.field))
    for p in ordered:
        field = f"principals.{p.key}" + (f".{p.field}" if p.field else "")
        env.stderr.write(f"{display}:{doc.line_of(p.key, p.field)}: {field}: {p.message}\n")


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env, display = ctx.env, args.file
    path = absolute(display, env)
    stored, text = _read(path, display)
    manifest = _structure(text, display)
    from hsmsync.manifest_edit import ManifestDocument  # ruamel.yaml: only this command pays its import

    doc = ManifestDocument(stored, str(display))
    principals = manifest.principals
    unpinned = [key for key, p in principals.items() if p.id is None]

    if args.check:
        return _check(env, display, doc, principals, unpinned)
    if not unpinned:
        env.stdout.write(f"{display}: nothing to resolve, all {len(principals)} principals have ids\n")
        return ExitStatus.OK
    queries, problems = name_queries(principals)
    found: dict[str, Found] = {}
    if queries:
        directory = _directory(args, env)
        try:
            for q in queries:
                found[q.key] = directory.find(q)
        finally:
            directory.close()
    pinned = {key: p.id for key, p in principals.items() if p.id is not None}
    resolution = decide(queries, found, pinned)
    all_problems = [*problems, *resolution.problems]
    if all_problems:
        _report(env, display, doc, all_problems)
        env.stderr.write(
            f"{display}: not changed ({len(all_problems)} of {len(unpinned)} principals unresolved)\n"
        )
        return ExitStatus.ERROR
    replace_atomically(path, doc.with_ids(resolution.ids).encode("utf-8"))
    width = max(len(k) for k in resolution.ids)
    env.stdout.write(f"{display}: pinned {len(resolution.ids)} principal ids\n")
    by_key = {q.key: q for q in queries}
    for key, object_id in resolution.ids.items():
        q = by_key[key]
        env.stdout.write(f"  {key:<{width}}  {object_id}  ({q.type} {q.field} '{q.value}')\n")
    return ExitStatus.OK


def _check(
    env: Environment,
    display: Path,
    doc: ManifestDocument,
    principals: Mapping[str, Principal],
    unpinned: list[str],
) -> ExitStatus:
    """`--check`: look nothing up, write nothing; exit 1 when a principal has no id yet."""
    if not unpinned:
        env.stdout.write(f"{display}: all {len(principals)} principals have ids\n")
        return ExitStatus.OK
    queries, problems = name_queries(principals)
    why = {q.key: f"has no id yet ({q.field} '{q.value}'); run `hsmsync resolve`" for q in queries}
    why.update({p.key: f"has no id; {p.message}" for p in problems})
    for key in unpinned:
        env.stderr.write(f"{display}:{doc.line_of(key)}: principals.{key}: {why[key]}\n")
    env.stderr.write(f"{len(unpinned)} of {len(principals)} principals not pinned\n")
    return ExitStatus.ERROR
