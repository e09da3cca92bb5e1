"""`hsmsync whocan ACTION --hsm NAME [--key KEY] | --vault NAME`: who can perform a data action on
an HSM or one of its keys, or hold a vault permission, and through which grant."""

from __future__ import annotations

import argparse

from hsmsync.cli.commands._review import IS_NOW, WOULD_BE, add_review_options
from hsmsync.cli.context import Context
from hsmsync.cli.options import add_format, source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.core.access import grants_from_desired, grants_from_live, resolve_action
from hsmsync.core.catalog import DATA_ACTION_PREFIX
from hsmsync.core.directory import Directory
from hsmsync.core.effective import directory_of, expand, manifest_names
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.scopes import normalize_data_scope
from hsmsync.core.state import LiveState
from hsmsync.core.vault_access import (
    expand_policies,
    policies_from_desired,
    policies_from_live,
    resolve_vault_permission,
)
from hsmsync.core.vault_rbac_access import VaultQuestion, vault_answer
from hsmsync.core.whocan import WhoCan, who_can_effective
from hsmsync.environment import Environment
from hsmsync.manifest import LoadedManifest
from hsmsync.references import did_you_mean
from hsmsync.render import access_json
from hsmsync.render.access_text import render_whocan
from hsmsync.workflow import load, read_live


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "whocan",
        help="who can perform a data action on an HSM or one of its keys, or hold a vault permission",
    )
    add_review_options(p)
    target = p.add_mutually_exclusive_group()
    target.add_argument("--hsm", help="HSM (or vault) name, as in the manifest")
    target.add_argument(
        "--vault",
        help="Key Vault name, as in the manifest: answers from its access policies, or from its "
        "Azure role assignments (and their conditions) when it uses Azure RBAC",
    )
    p.add_argument("--key", help="key name: only access that reaches this key (an HSM's key must exist)")
    p.add_argument(
        "--object",
        help="vault on Azure RBAC: the key, secret or certificate the permission is about "
        "(assignments scoped to other objects, and conditions that deny its name, do not count)",
    )
    p.add_argument(
        "action",
        help="HSM: e.g. sign, keys/rotate/action, Microsoft.KeyVault/managedHsm/...; "
        "vault: an access-policy permission, e.g. keys/sign, secrets/get",
    )
    add_format(p, ["text", "json"])


def _whocan_target(args: argparse.Namespace, loaded: LoadedManifest) -> tuple[str, bool]:
    """(name, is a vault): `--vault NAME`, or `--hsm NAME` naming an HSM or a vault."""
    hsms, vaults = loaded.desired.hsms, loaded.desired.vaults
    if args.vault is not None:
        if args.vault not in vaults:
            declared = ", ".join(sorted(vaults)) or "(none)"
            raise HsmsyncError(
                f"unknown vault '{args.vault}'; declared: {declared}{did_you_mean(args.vault, vaults)}"
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
    raise HsmsyncError(
        f"unknown HSM or vault '{args.hsm}'; declared: {declared}{did_you_mean(args.hsm, names)}"
    )


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
        raise HsmsyncError(f"--key: {where}; keys: {listed}{did_you_mean(key, keys)}")


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env = ctx.env
    loaded = load(args.file, env)
    target, is_vault = _whocan_target(args, loaded)
    if is_vault:
        return _whocan_vault(args, env, loaded, target)
    # This HSM fully discovered: every principal's assignments and every key, not only the manifest's.
    live = read_live(source_of(args), env, loaded, fully=[target], directory=True)
    if args.key is not None:
        _check_key(args, loaded, target, live)
    action = resolve_action(args.action)
    question = action.removeprefix(DATA_ACTION_PREFIX) + f" on {target}"
    question += f", key {args.key}" if args.key else " (any key or scope)"
    # Group members come from the directory live state holds (the state file's, or Graph's).
    directory = _directory(live)
    names = _names(loaded)
    desired = expand(grants_from_desired(loaded.desired), directory, names)
    would_be = who_can_effective(desired, target, action, args.key)
    is_now = None
    if live is not None:
        held = expand(grants_from_live(live, loaded.desired.principals), directory, names)
        is_now = who_can_effective(held, target, action, args.key)
    return _answer_whocan(args, env, question, would_be, is_now)


def _directory(live: LiveState | None) -> Directory | None:
    return directory_of(live)


def _names(loaded: LoadedManifest) -> dict[str, str]:
    return manifest_names(loaded.desired.principals)


def _answer_whocan(
    args: argparse.Namespace,
    env: Environment,
    question: str,
    would_be: WhoCan,
    is_now: WhoCan | None,
) -> ExitStatus:
    if args.format == "json":
        env.stdout.write(access_json.render_whocan(question, would_be, is_now))
    elif is_now is None:
        env.stdout.write(render_whocan(would_be, question))
    else:
        env.stdout.write(render_whocan(would_be, question, WOULD_BE))
        env.stdout.write("\n" + render_whocan(is_now, question, IS_NOW))
    return ExitStatus.OK


def _whocan_vault(
    args: argparse.Namespace, env: Environment, loaded: LoadedManifest, vault: str
) -> ExitStatus:
    if args.key is not None:
        raise HsmsyncError("--key is for HSMs; on a vault, name the key, secret or certificate with --object")
    kind, permission = resolve_vault_permission(args.action)
    name = _object_name(args.object)
    declared = loaded.desired.vaults[vault]
    live = read_live(source_of(args), env, loaded, directory=True)
    rbac_now = None if live is None else live.vaults[vault].enable_rbac_authorization
    if name is not None and not declared.rbac and not rbac_now:
        raise HsmsyncError(
            f"--object: vault '{vault}' uses access policies, which apply to the whole vault; "
            "--object is for a vault on Azure RBAC (its role assignments may be scoped or conditioned)"
        )
    question = f"{kind}/{permission} on vault {vault}" + (f", {kind[:-1]} {name}" if name else "")
    models = dict.fromkeys(
        ["Azure RBAC" if m else "access policies" for m in (declared.rbac, rbac_now) if m is not None]
    )
    question += f" ({' / '.join(models)})"
    # Writers of the vault (or of its role assignments) in Azure RBAC can obtain the permission.
    directory, names = _directory(live), _names(loaded)
    mgmt = expand(grants_from_desired(loaded.desired), directory, names)
    q = VaultQuestion(declared, kind, permission, name)
    # An access policy held by a group reaches its members, as a role assignment does.
    policies = expand_policies(policies_from_desired(loaded.desired), directory, names)
    would_be = vault_answer(q, declared.rbac, policies, mgmt)
    is_now = None
    if live is not None:
        held = expand_policies(policies_from_live(live, loaded.desired.principals), directory, names)
        live_mgmt = expand(grants_from_live(live, loaded.desired.principals), directory, names)
        is_now = vault_answer(q, bool(rbac_now), held, live_mgmt)
    return _answer_whocan(args, env, question, would_be, is_now)


def _object_name(text: str | None) -> str | None:
    if text is None:
        return None
    if not text or "/" in text or not all(c.isalnum() or c == "-" for c in text):
        raise HsmsyncError(
            f"--object: '{text}' is not a valid key, secret or certificate name (letters, digits, '-')"
        )
    return text
