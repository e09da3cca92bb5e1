"""`hsmsync migrate`: move Key Vaults from access policies to Azure RBAC.

migrate --report            every vault still on access policies: identities, permissions, proposed roles
migrate [--vault V]         the manifest change (a patch: `rbac: true` and role assignments), to review
migrate --write             the same change written into the manifest file
migrate --apply             the reviewed change, applied in verified stages (migration_apply.py)
migrate --rollback V        switch a vault back to its access policies
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hsmsync.cli.context import Context
from hsmsync.cli.options import (
    MANIFEST_HELP,
    add_format,
    add_guard,
    add_manifest,
    add_source,
    guard_of,
    source_of,
)
from hsmsync.cli.status import ExitStatus
from hsmsync.core.desired import DesiredVault
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.state import LiveState
from hsmsync.core.vault_migration import VaultMigration, migrate_vault, permission_list
from hsmsync.environment import Environment
from hsmsync.manifest import LoadedManifest
from hsmsync.manifest_yaml import decode_manifest
from hsmsync.migration_apply import MigrationRun, Migrator, migration_request, pending
from hsmsync.migration_checks import names_of
from hsmsync.migration_edit import migrated_text, unified_diff
from hsmsync.references import did_you_mean
from hsmsync.render import migration as render
from hsmsync.workflow import absolute, caller_of, load, opened_backend, resolve_callers
from hsmsync_files.textfiles import write_output_file

_NONE = "No Key Vault of the manifest is on access policies."


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "migrate",
        help="move Key Vaults from access policies to Azure RBAC: report, propose the manifest change, "
        "apply it in verified stages",
    )
    add_manifest(p, MANIFEST_HELP)
    add_source(p, "read live state from this fake state file", "read live state from Azure (the default)")
    add_guard(p, "migrate")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--report", action="store_true", help="list every vault still on access policies")
    mode.add_argument("--write", action="store_true", help="write the proposed change into the manifest file")
    mode.add_argument(
        "--apply",
        action="store_true",
        help="move the vaults the reviewed manifest puts on Azure RBAC, in verified stages",
    )
    mode.add_argument("--rollback", metavar="VAULT", help="switch VAULT back to its access policies")
    p.add_argument("--vault", action="append", default=[], help="only this vault (repeatable)")
    p.add_argument(
        "--wait",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="--apply: how long to wait for new role assignments to be in effect (default 300)",
    )
    p.add_argument(
        "--settle",
        type=float,
        metavar="SECONDS",
        help="--apply: then wait this long before the switch, for Azure to honour the new assignments "
        "on the data plane (default 300 with --live, 0 with --state)",
    )
    add_format(p, ["text", "json", "markdown"], "--report's format")


def _vaults(loaded: LoadedManifest, names: list[str]) -> list[DesiredVault]:
    declared = loaded.desired.vaults
    for name in names:
        if name not in declared:
            listed = ", ".join(sorted(declared)) or "(none)"
            raise HsmsyncError(
                f"--vault: unknown vault '{name}'; declared: {listed}{did_you_mean(name, declared)}"
            )
    return [v for n, v in declared.items() if not names or n in names]


def _on_policies(live: LiveState, vaults: list[DesiredVault]) -> list[DesiredVault]:
    return [
        v for v in vaults if (lv := live.vaults.get(v.name)) is not None and not lv.enable_rbac_authorization
    ]


def _proposals(loaded: LoadedManifest, live: LiveState, vaults: list[DesiredVault]) -> list[VaultMigration]:
    names = names_of(loaded.desired)
    return [
        migrate_vault(v.name, v.resource_id, live.vaults[v.name].access_policies, names, v.migration)
        for v in _on_policies(live, vaults)
    ]


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env = ctx.env
    loaded = load(args.file, env)
    vaults = _vaults(loaded, [*args.vault, *([args.rollback] if args.rollback else [])])
    options = resolve_callers(guard_of(args), loaded)
    with opened_backend(source_of(args), env, ctx.progress) as backend:
        caller = caller_of(options, backend)
        if args.apply or args.rollback:
            live = backend.read_state(migration_request(loaded.desired, vaults, caller))
            migration = MigrationRun(
                loaded.desired,
                backend,
                caller,
                lambda line: _say(env, line),
                wait_seconds=args.wait,
                poll_seconds=max(0.1, min(5.0, args.wait / 10)),
                settle_seconds=args.settle if args.settle is not None else (0.0 if args.state else 300.0),
            )
            todo = vaults if args.rollback else pending(loaded.desired, live)
            if not todo:
                env.stdout.write(
                    "Nothing to migrate: no vault the manifest puts on Azure RBAC still uses access "
                    "policies.\n"
                )
            for vault in todo:
                runner = Migrator(migration, vault)
                runner.rollback() if args.rollback else runner.migrate()
            return ExitStatus.OK
        live = backend.read_state(migration_request(loaded.desired, vaults, caller))
    proposals = _proposals(loaded, live, [v for v in vaults if not v.rbac])
    if args.report:
        return _report(env, args.format, _proposals(loaded, live, vaults))
    return _propose(args, env, proposals)


def _say(env: Environment, line: str) -> None:
    env.stdout.write(line + "\n")
    env.stdout.flush()


def _report(env: Environment, fmt: str, proposals: list[VaultMigration]) -> ExitStatus:
    if fmt == "json":
        env.stdout.write(render.render_json(proposals))
    elif fmt == "markdown":
        env.stdout.write(render.render_markdown(proposals, _NONE))
    else:
        env.stdout.write(render.render_text(proposals, _NONE))
    return ExitStatus.OK


def _propose(args: argparse.Namespace, env: Environment, proposals: list[VaultMigration]) -> ExitStatus:
    shown: Path = args.file
    path = absolute(shown, env)
    if path.is_dir():
        raise HsmsyncError(
            f"{shown}: migrate edits one manifest file; give the file that declares the vault (-f FILE)"
        )
    env.stdout.write(
        render.render_text(
            proposals,
            "No vault to migrate: every vault of the manifest is on Azure RBAC (or says rbac: true).",
        )
    )
    refused = [(m, i) for m in proposals for i in m.refused]
    if refused:
        listing = "\n".join(f"  {i.label}: {permission_list(i.refused_loss)}" for _, i in refused)
        lines = "\n".join(f"  vaults.{m.vault}.migration.accept_loss: {{{i.acceptance}}}" for m, i in refused)
        compound = any(i.application_id for _, i in refused)
        raise HsmsyncError(
            "refused: the move would take access away:\n"
            f"{listing}\naccept each loss in the manifest:\n{lines}\n"
            + (
                "(a compound identity, a user through an application, has no Azure RBAC equivalent)\n"
                if compound
                else ""
            )
            + "or allow custom roles (migration.custom_roles: true), then run migrate again"
        )
    if not proposals:
        return ExitStatus.OK
    old = decode_manifest(path.read_bytes(), shown)
    new = old
    for m in proposals:
        new = migrated_text(new, shown, m)
    if args.write:
        write_output_file(path, new, str(shown))
        env.stdout.write(f"wrote {shown}: review the change, then `hsmsync migrate --apply`\n")
    else:
        env.stdout.write(unified_diff(old, new, shown))
    return ExitStatus.OK
