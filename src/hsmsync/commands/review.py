"""Review commands: `lint`, `whocan`, `explain`. Each loads, asks the core, renders, picks an exit code.

Without `--state`/`--live` they answer from the manifest (what would be); with either they also
read live state (what is), naming principals from the manifest.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from hsmsync.backends.registry import open_backend, read_request_for
from hsmsync.core.access import (
    Explanation,
    explain,
    grants_from_desired,
    grants_from_live,
    resolve_action,
    who_can,
)
from hsmsync.core.catalog import DATA_ACTION_PREFIX
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.ids import is_guid
from hsmsync.core.lint import LintReport, lint
from hsmsync.core.scopes import normalize_data_scope
from hsmsync.core.state import LiveState
from hsmsync.environment import Environment
from hsmsync.manifest import LoadedManifest, load_manifest
from hsmsync.render import lint_json, lint_text, sarif
from hsmsync.render.access_text import render_explain, render_whocan
from hsmsync.render.lint_text import LineOf

Handler = Callable[[argparse.Namespace, Environment], int]
LINT_RENDERERS: dict[str, Callable[[LintReport, str, LineOf], str]] = {
    "text": lint_text.render_lint,
    "json": lint_json.render_lint,
    "sarif": sarif.render_sarif,
}
WOULD_BE = "According to the manifest (what would be):"
IS_NOW = "In live state (what is):"


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-f", "--file", type=Path, default=Path("hsmsync.yaml"), help="manifest (default: hsmsync.yaml)"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--state", type=Path, help="also read live state from this fake state file")
    src.add_argument("--live", action="store_true", help="also read live state from Azure")
    p.add_argument("--endpoints", type=Path, help="endpoints file of a local emulator (with --live)")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lint", help="check the manifest against the Managed HSM security baseline")
    _add_source_args(p)
    p.add_argument("--format", choices=sorted(LINT_RENDERERS), default="text")

    p = sub.add_parser("whocan", help="who can perform a data action on an HSM or one of its keys")
    _add_source_args(p)
    p.add_argument("--hsm", required=True, help="HSM name, as in the manifest")
    p.add_argument("--key", help="key name: only access that reaches this key")
    p.add_argument("action", help="e.g. sign, keys/rotate/action, Microsoft.KeyVault/managedHsm/...")

    p = sub.add_parser("explain", help="what one principal can do on both planes, and why")
    _add_source_args(p)
    p.add_argument("principal", help="the principal's key in the manifest, or its object id")


def _load(args: argparse.Namespace, env: Environment) -> LoadedManifest:
    path: Path = args.file
    return load_manifest(path if path.is_absolute() else env.cwd / path, display=path)


def _live(args: argparse.Namespace, env: Environment, loaded: LoadedManifest) -> LiveState | None:
    if args.state is None and not args.live:
        return None
    backend = open_backend(state=args.state, endpoints=args.endpoints, environ=env.environ, cwd=env.cwd)
    return backend.read_state(read_request_for(loaded.desired))


def cmd_lint(args: argparse.Namespace, env: Environment) -> int:
    loaded = _load(args, env)
    report = lint(loaded.manifest, loaded.desired, _live(args, env, loaded))
    env.stdout.write(LINT_RENDERERS[args.format](report, str(args.file), loaded.positions.line_of))
    return report.exit_code


def cmd_whocan(args: argparse.Namespace, env: Environment) -> int:
    loaded = _load(args, env)
    if args.hsm not in loaded.desired.hsms:
        raise HsmsyncError(f"unknown HSM '{args.hsm}'; declared: {', '.join(sorted(loaded.desired.hsms))}")
    if args.key is not None:
        try:
            if "/" in args.key:
                raise ValueError
            normalize_data_scope(f"/keys/{args.key}")
        except ValueError:
            bad = f"--key: '{args.key}' is not a valid key name (letters, digits and '-')"
            raise HsmsyncError(bad) from None
    action = resolve_action(args.action)
    question = action.removeprefix(DATA_ACTION_PREFIX) + f" on {args.hsm}"
    question += f", key {args.key}" if args.key else " (any key or scope)"
    desired_paths = who_can(grants_from_desired(loaded.desired), args.hsm, action, args.key)
    live = _live(args, env, loaded)
    if live is None:
        env.stdout.write(render_whocan(desired_paths, question))
        return 0
    live_paths = who_can(grants_from_live(live, loaded.desired.principals), args.hsm, action, args.key)
    env.stdout.write(render_whocan(desired_paths, question, WOULD_BE))
    env.stdout.write("\n" + render_whocan(live_paths, question, IS_NOW))
    return 0


def _principal_id(loaded: LoadedManifest, reference: str) -> str:
    declared = loaded.manifest.principals
    if reference in declared and declared[reference].id:
        return str(declared[reference].id)
    if is_guid(reference):
        return reference.lower()
    close = difflib.get_close_matches(reference, list(declared), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise HsmsyncError(f"unknown principal '{reference}' (give a key of `principals` or an object id){hint}")


def _named(e: Explanation, loaded: LoadedManifest) -> Explanation:
    # A principal without grants still has a name and a type if the manifest declares it.
    info = loaded.desired.principals.get(e.principal_id)
    return replace(e, principal=info.key, principal_type=info.type) if info else e


def cmd_explain(args: argparse.Namespace, env: Environment) -> int:
    loaded = _load(args, env)
    principal_id = _principal_id(loaded, args.principal)
    declared = grants_from_desired(loaded.desired)
    would_be = _named(explain(declared, principal_id, None), loaded)
    live = _live(args, env, loaded)
    if live is None:
        env.stdout.write(render_explain(would_be))
        return 0
    held = grants_from_live(live, loaded.desired.principals)
    env.stdout.write(render_explain(would_be, WOULD_BE))
    env.stdout.write("\n" + render_explain(_named(explain(held, principal_id, declared), loaded), IS_NOW))
    return 0


COMMANDS: dict[str, Handler] = {"lint": cmd_lint, "whocan": cmd_whocan, "explain": cmd_explain}
