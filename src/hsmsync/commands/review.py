"""Review commands: `lint`, `whocan`, `explain`. Each loads, asks the core, renders, picks an exit code.

Without `--state`/`--live` they answer from the manifest (what would be); with either they also
read live state (what is), naming principals from the manifest.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from hsmsync.backends.registry import add_allow_host_option, open_backend_for, read_request_for
from hsmsync.commands import ci
from hsmsync.core.access import (
    AccessPath,
    Explanation,
    explain,
    grants_from_desired,
    grants_from_live,
    resolve_action,
    who_can,
)
from hsmsync.core.catalog import DATA_ACTION_PREFIX
from hsmsync.core.errors import HsmsyncError, ManifestError
from hsmsync.core.ids import is_guid
from hsmsync.core.lint import LintReport, lint
from hsmsync.core.scopes import normalize_data_scope
from hsmsync.core.state import LiveState
from hsmsync.core.vault_access import (
    policies_from_desired,
    policies_from_live,
    resolve_vault_permission,
)
from hsmsync.core.whocan import who_can_on_vault
from hsmsync.environment import Environment
from hsmsync.manifest import LoadedManifest, load_manifest
from hsmsync.render import access_json, lint_json, lint_text, sarif
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
    add_allow_host_option(p)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lint", help="check the manifest against the Managed HSM security baseline")
    _add_source_args(p)
    p.add_argument("--format", choices=sorted(LINT_RENDERERS), default="text")
    p.add_argument("--soft-fail", action="store_true", help="exit 0 even with error findings (report only)")
    p.add_argument(
        "--sarif-root",
        type=Path,
        help="SARIF: the repository root artifact URIs are relative to (default: git top level)",
    )

    p = sub.add_parser(
        "whocan",
        help="who can perform a data action on an HSM or one of its keys, or hold a vault permission",
    )
    _add_source_args(p)
    target = p.add_mutually_exclusive_group()
    target.add_argument("--hsm", help="HSM (or vault) name, as in the manifest")
    target.add_argument(
        "--vault", help="Key Vault name, as in the manifest: answers from its access policies"
    )
    p.add_argument("--key", help="key name: only access that reaches this key (an HSM's key must exist)")
    p.add_argument(
        "action",
        help="HSM: e.g. sign, keys/rotate/action, Microsoft.KeyVault/managedHsm/...; "
        "vault: an access-policy permission, e.g. keys/sign, secrets/get",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("explain", help="what one principal can do on both planes, and why")
    _add_source_args(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("principal", help="the principal's key in the manifest, or its object id")


def _load(args: argparse.Namespace, env: Environment) -> LoadedManifest:
    path: Path = args.file
    return load_manifest(path if path.is_absolute() else env.cwd / path, display=path)


def _live(
    args: argparse.Namespace, env: Environment, loaded: LoadedManifest, *, full: str | None = None
) -> LiveState | None:
    """Live state when asked for; `full` names an HSM whose every assignment and key to read."""
    if args.state is None and not args.live:
        return None
    backend = open_backend_for(args, environ=env.environ, cwd=env.cwd)
    request = read_request_for(loaded.desired)
    if full is not None:
        request = replace(request, full_discovery=request.full_discovery | {full})
    return backend.read_state(request)


def cmd_lint(args: argparse.Namespace, env: Environment) -> int:
    manifest = args.file if args.file.is_absolute() else env.cwd / args.file
    try:
        loaded = _load(args, env)
    except ManifestError as exc:
        if args.format != "sarif":
            raise  # the CLI reports it (and annotates it in GitHub Actions)
        return _invalid_as_sarif(args, env, exc, manifest)
    report = lint(loaded.manifest, loaded.desired, _live(args, env, loaded))
    line_of = loaded.positions.line_of
    if args.format == "sarif":
        root = ci.repo_root(manifest, _cwd_path(args.sarif_root, env))
        uri = ci.relative_uri(manifest, root)
        env.stdout.write(sarif.render_sarif(report, uri, line_of, root.as_uri() + "/"))
    else:
        env.stdout.write(LINT_RENDERERS[args.format](report, str(args.file), line_of))
    if ci.in_github_actions(env.environ):  # paths relative to the repository root, where GitHub looks
        shown = ci.relative_uri(manifest, ci.repo_root(manifest, _cwd_path(args.sarif_root, env)))
        items = [(f.severity.value, shown, line_of(f.location_path), f.message) for f in report.findings]
        env.stderr.write(ci.workflow_annotations(items))
    return 0 if args.soft_fail else report.exit_code


def _invalid_as_sarif(args: argparse.Namespace, env: Environment, exc: ManifestError, manifest: Path) -> int:
    """An invalid manifest reported like findings (SARIF results, annotations), exit 1: the upload
    step of a pipeline still gets a file, and the errors show on the pull request."""
    env.stderr.write(ci.manifest_annotations(exc, env))
    root = ci.repo_root(manifest, _cwd_path(args.sarif_root, env))
    errors = ci.located_errors(exc, str(args.file))
    located = [(ci.relative_uri(env.cwd / f, root), line, m) for f, line, m in errors]
    env.stdout.write(sarif.render_invalid(located, root.as_uri() + "/"))
    return 1


def _cwd_path(path: Path | None, env: Environment) -> Path | None:
    return path if path is None or path.is_absolute() else env.cwd / path


def _close(word: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(names), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _whocan_target(args: argparse.Namespace, loaded: LoadedManifest) -> tuple[str, bool]:
    """(name, is a vault): `--vault NAME`, or `--hsm NAME` naming an HSM or a vault."""
    hsms, vaults = loaded.desired.hsms, loaded.desired.vaults
    if args.vault is not None:
        if args.vault not in vaults:
            declared = ", ".join(sorted(vaults)) or "(none)"
            raise HsmsyncError(
                f"unknown vault '{args.vault}'; declared: {declared}{_close(args.vault, vaults)}"
            )
        return args.vault, True
    if args.hsm is None:
        raise HsmsyncError("whocan needs --hsm NAME (an HSM or a vault of the manifest) or --vault NAME")
    if args.hsm in hsms:
        return args.hsm, False
    if args.hsm in vaults:
        return args.hsm, True
    names = [*hsms, *vaults]
    declared = ", ".join([*sorted(hsms), *(f"{v} (vault)" for v in sorted(vaults))]) or "(none)"
    raise HsmsyncError(f"unknown HSM or vault '{args.hsm}'; declared: {declared}{_close(args.hsm, names)}")


def _check_key(args: argparse.Namespace, loaded: LoadedManifest, hsm: str, live: LiveState | None) -> None:
    """A key that does not exist is an error, never "Nobody can": the live HSM's keys decide when
    live state is read, else the keys the manifest names."""
    key = args.key
    try:
        if "/" in key:
            raise ValueError
        normalize_data_scope(f"/keys/{key}")
    except ValueError:
        raise HsmsyncError(f"--key: '{key}' is not a valid key name (letters, digits and '-')") from None
    live_keys = live.hsms[hsm].keys if live is not None else None  # None: not listed
    if live_keys is not None:
        keys, where = live_keys, f"HSM '{hsm}' has no key '{key}'"
    else:
        keys = loaded.desired.key_names(hsm)
        ask = "its keys could not be listed" if live is not None else "give --state or --live to ask the HSM"
        where = f"the manifest names no key '{key}' on HSM '{hsm}' ({ask})"
    if key.lower() not in {k.lower() for k in keys}:
        listed = ", ".join(sorted(keys)) or "(none)"
        raise HsmsyncError(f"--key: {where}; keys: {listed}{_close(key, keys)}")


def cmd_whocan(args: argparse.Namespace, env: Environment) -> int:
    loaded = _load(args, env)
    target, is_vault = _whocan_target(args, loaded)
    if is_vault:
        return _whocan_vault(args, env, loaded, target)
    # This HSM fully discovered: every principal's assignments and every key, not only the manifest's.
    live = _live(args, env, loaded, full=target)
    if args.key is not None:
        _check_key(args, loaded, target, live)
    action = resolve_action(args.action)
    question = action.removeprefix(DATA_ACTION_PREFIX) + f" on {target}"
    question += f", key {args.key}" if args.key else " (any key or scope)"
    desired_paths = who_can(grants_from_desired(loaded.desired), target, action, args.key)
    live_paths = None
    if live is not None:
        live_paths = who_can(grants_from_live(live, loaded.desired.principals), target, action, args.key)
    return _answer_whocan(args, env, question, desired_paths, live_paths)


def _answer_whocan(
    args: argparse.Namespace,
    env: Environment,
    question: str,
    would_be: list[AccessPath],
    is_now: list[AccessPath] | None,
) -> int:
    if args.format == "json":
        env.stdout.write(access_json.render_whocan(question, would_be, is_now))
    elif is_now is None:
        env.stdout.write(render_whocan(would_be, question))
    else:
        env.stdout.write(render_whocan(would_be, question, WOULD_BE))
        env.stdout.write("\n" + render_whocan(is_now, question, IS_NOW))
    return 0


def _whocan_vault(args: argparse.Namespace, env: Environment, loaded: LoadedManifest, vault: str) -> int:
    if args.key is not None:
        raise HsmsyncError("--key is for HSMs; a vault's access policies apply to the whole vault")
    kind, permission = resolve_vault_permission(args.action)
    question = f"{kind}/{permission} on vault {vault} (access policies)"
    declared = loaded.desired.vaults[vault]
    live = _live(args, env, loaded)
    rbac = declared.rbac if live is None else live.vaults[vault].enable_rbac_authorization
    if rbac:
        raise HsmsyncError(
            f"vault '{vault}' uses Azure RBAC: Azure ignores its access policies, and whocan does not "
            "evaluate Azure RBAC data actions; use `hsmsync explain PRINCIPAL` for one principal"
        )
    desired_paths = who_can_on_vault(policies_from_desired(loaded.desired), vault, kind, permission)
    live_paths = None
    if live is not None:
        held = policies_from_live(live, loaded.desired.principals)
        live_paths = who_can_on_vault(held, vault, kind, permission)
    return _answer_whocan(args, env, question, desired_paths, live_paths)


def principal_id_of(loaded: LoadedManifest, reference: str) -> str:
    """The object id `reference` names: a key of `principals`, or a GUID (any case)."""
    declared = loaded.manifest.principals
    if reference in declared and declared[reference].id:
        return str(declared[reference].id)
    if is_guid(reference):
        return reference.lower()
    hint = _close(reference, declared)
    raise HsmsyncError(f"unknown principal '{reference}' (give a key of `principals` or an object id){hint}")


def _named(e: Explanation, loaded: LoadedManifest) -> Explanation:
    # A principal without grants still has a name and a type if the manifest declares it.
    info = loaded.desired.principals.get(e.principal_id)
    return replace(e, principal=info.key, principal_type=info.type) if info else e


def cmd_explain(args: argparse.Namespace, env: Environment) -> int:
    loaded = _load(args, env)
    principal_id = principal_id_of(loaded, args.principal)
    declared = grants_from_desired(loaded.desired)
    declared_policies = policies_from_desired(loaded.desired)
    would_be = _named(explain(declared, principal_id, None, policies=declared_policies), loaded)
    live = _live(args, env, loaded)
    is_now = None
    if live is not None:
        held = grants_from_live(live, loaded.desired.principals)
        policies = policies_from_live(live, loaded.desired.principals)
        explained = explain(
            held, principal_id, declared, policies=policies, declared_policies=declared_policies
        )
        is_now = _named(explained, loaded)
    if args.format == "json":
        env.stdout.write(access_json.render_explain(would_be, is_now))
    elif is_now is None:
        env.stdout.write(render_explain(would_be))
    else:
        env.stdout.write(render_explain(would_be, WOULD_BE))
        env.stdout.write("\n" + render_explain(is_now, IS_NOW))
    return 0


COMMANDS: dict[str, Handler] = {"lint": cmd_lint, "whocan": cmd_whocan, "explain": cmd_explain}
