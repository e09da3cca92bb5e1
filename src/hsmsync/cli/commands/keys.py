"""`hsmsync keys --state FILE | --live`: every key of the manifest's HSMs (and of its vaults, where
their keys are known) with type, enabled, expiry, last rotation and who can use it, for auditors."""

from __future__ import annotations

import argparse

from hsmsync.backends.base import KeyDetail
from hsmsync.cli.commands._review import add_review_options
from hsmsync.cli.context import Context
from hsmsync.cli.options import add_at, add_format, now_of, source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.core.effective import directory_of, expand, manifest_names
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.grants import grants_from_live
from hsmsync.core.key_review import key_inventory
from hsmsync.core.vault_access import expand_policies, policies_from_live
from hsmsync.render import keys as render
from hsmsync.workflow import load, read_live

_RENDERERS = {"text": render.render_text, "markdown": render.render_markdown, "json": render.render_json}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "keys",
        help="each HSM's (and vault's) keys: type, enabled, expiry, last rotation, who can use each",
    )
    add_review_options(p)
    add_at(p)
    add_format(p, list(_RENDERERS))


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env = ctx.env
    now = now_of(args, env)  # one clock: key expiry and grant expiry (`expires:`) alike
    loaded = load(args.file, env, now=now)
    source = source_of(args)
    if not source.given:
        raise HsmsyncError("keys reads the keys from live state: give --state FILE or --live")
    # Every assignment of every HSM: who can use a key includes principals the manifest does not
    # name, and the members of groups (the directory behind the assignments, as whocan reads it).
    live = read_live(
        source, env, loaded, fully=loaded.desired.hsms, key_details=KeyDetail.TYPES, directory=True
    )
    assert live is not None
    principals = loaded.desired.principals
    directory, names = directory_of(live), manifest_names(principals)
    inventory = key_inventory(
        live,
        expand(grants_from_live(live, principals), directory, names),
        expand_policies(policies_from_live(live, principals), directory, names),
        now=now,
        warning_days=loaded.manifest.lint.key_expiry_warning_days,
    )
    env.stdout.write(_RENDERERS[args.format](inventory))
    return ExitStatus.OK
