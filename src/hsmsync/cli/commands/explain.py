"""`hsmsync explain PRINCIPAL`: what one principal can do on both planes, and why."""

from __future__ import annotations

import argparse
from dataclasses import replace

from hsmsync.cli.commands._review import IS_NOW, WOULD_BE, add_review_options
from hsmsync.cli.context import Context
from hsmsync.cli.options import add_format, source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.core.access import Explanation, explain, grants_from_desired, grants_from_live
from hsmsync.core.effective import directory_of, expand, manifest_names
from hsmsync.core.explain import with_group_grants, with_vault_escalation
from hsmsync.core.vault_access import expand_policies, policies_from_desired, policies_from_live
from hsmsync.manifest import LoadedManifest
from hsmsync.references import principal_id_of
from hsmsync.render import access_json
from hsmsync.render.access_text import render_explain
from hsmsync.workflow import load, read_live


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("explain", help="what one principal can do on both planes, and why")
    add_review_options(p)
    add_format(p, ["text", "json"])
    p.add_argument("principal", help="the principal's key in the manifest, or its object id")


def _named(e: Explanation, loaded: LoadedManifest) -> Explanation:
    # A principal without grants still has a name and a type if the manifest declares it.
    info = loaded.desired.principals.get(e.principal_id)
    return replace(e, principal=info.key, principal_type=info.type) if info else e


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env = ctx.env
    loaded = load(args.file, env)
    principal_id = principal_id_of(loaded, args.principal)
    declared = grants_from_desired(loaded.desired)
    live = read_live(source_of(args), env, loaded, directory=True)
    # Grants (and access policies) to groups reach their members: the directory comes with live state.
    directory, names = directory_of(live), manifest_names(loaded.desired.principals)
    declared_policies = expand_policies(policies_from_desired(loaded.desired), directory, names)
    desired_effective = expand(declared, directory, names)
    would_be = explain(declared, principal_id, None, policies=declared_policies)
    would_be = with_group_grants(would_be, desired_effective)
    # Writers of a vault that uses access policies can give themselves any permission on it.
    policy_vaults = {n: v.resource_id for n, v in loaded.desired.vaults.items() if not v.rbac}
    would_be = _named(with_vault_escalation(would_be, desired_effective, policy_vaults), loaded)
    is_now = None
    if live is not None:
        held = grants_from_live(live, loaded.desired.principals)
        policies = expand_policies(policies_from_live(live, loaded.desired.principals), directory, names)
        explained = explain(
            held, principal_id, declared, policies=policies, declared_policies=declared_policies
        )
        live_effective = expand(held, directory, names)
        live_vaults = {n: v.resource_id for n, v in live.vaults.items() if not v.enable_rbac_authorization}
        explained = with_group_grants(explained, live_effective)
        is_now = _named(with_vault_escalation(explained, live_effective, live_vaults), loaded)
    if args.format == "json":
        env.stdout.write(access_json.render_explain(would_be, is_now))
    elif is_now is None:
        env.stdout.write(render_explain(would_be))
    else:
        env.stdout.write(render_explain(would_be, WOULD_BE))
        env.stdout.write("\n" + render_explain(is_now, IS_NOW))
    return ExitStatus.OK
