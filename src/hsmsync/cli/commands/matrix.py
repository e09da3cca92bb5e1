"""`hsmsync matrix [--state FILE | --live] --format html|csv|markdown`: principals x places (each
HSM, all its keys, each key) x abilities, for auditors. With live state, before -> after the plan
(gained and lost marked); without, what the manifest grants."""

from __future__ import annotations

import argparse

from hsmsync.cli.commands._review import add_review_options
from hsmsync.cli.context import Context
from hsmsync.cli.options import source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.core.effective import directory_of, manifest_names
from hsmsync.core.grants import grants_from_desired, grants_from_live
from hsmsync.core.lint import state_after_apply
from hsmsync.core.matrix import AccessMatrix, access_matrix
from hsmsync.render import matrix as render
from hsmsync.workflow import load, read_live

_RENDERERS = {"html": render.render_html, "csv": render.render_csv, "markdown": render.render_markdown}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "matrix",
        help="who can do what where (principals x HSMs and keys x abilities), before -> after the plan",
    )
    add_review_options(p)
    p.add_argument("--format", choices=list(_RENDERERS), default="markdown", help="default: markdown")


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env = ctx.env
    loaded = load(args.file, env)
    desired = loaded.desired
    # Every assignment of every HSM: the matrix shows access the manifest does not name too; group
    # members come from the directory behind the assignments (the state file's, or Graph's).
    live = read_live(source_of(args), env, loaded, fully=desired.hsms, directory=True)
    names = manifest_names(desired.principals)
    matrix: AccessMatrix
    if live is None:
        keys = {name: desired.key_names(name) for name in desired.hsms}
        matrix = access_matrix(None, grants_from_desired(desired), keys, names=names)
        header = f"{args.file}: what the manifest grants (no live state read)"
    else:
        after = state_after_apply(desired, live)
        keys = {name: tuple(after.hsms[name].keys or ()) for name in desired.hsms if name in after.hsms}
        before, now = grants_from_live(live, desired.principals), grants_from_live(after, desired.principals)
        matrix = access_matrix(before, now, keys, directory_of(live), names)
        header = f"{args.file}: live state → after the plan"
    env.stdout.write(
        render.render_html(matrix, header) if args.format == "html" else _RENDERERS[args.format](matrix)
    )
    return ExitStatus.OK
