"""`hsmsync lint`: check the manifest against the Managed HSM security baseline."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

from hsmsync.backends.base import KeyDetail
from hsmsync.cli import ci
from hsmsync.cli.commands._review import add_review_options
from hsmsync.cli.context import Context
from hsmsync.cli.options import add_at, add_format, now_of, source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.core.errors import ManifestError
from hsmsync.core.lint import LintReport, lint
from hsmsync.core.lint_findings import Loc
from hsmsync.environment import Environment
from hsmsync.manifest_yaml import Positions
from hsmsync.render import lint_json, lint_text, sarif
from hsmsync.render.lint_text import LineOf
from hsmsync.workflow import absolute, load, read_live

RENDERERS: dict[str, Callable[[LintReport, str, LineOf], str]] = {
    "text": lint_text.render_lint,
    "json": lint_json.render_lint,
    "sarif": sarif.render_sarif,
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lint", help="check the manifest against the Managed HSM security baseline")
    add_review_options(p)
    add_format(p, sorted(RENDERERS))
    add_at(p)
    p.add_argument("--soft-fail", action="store_true", help="exit 0 even with error findings (report only)")
    p.add_argument(
        "--sarif-root",
        type=Path,
        help="SARIF: the repository root artifact URIs are relative to (default: git top level)",
    )


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env = ctx.env
    manifest = absolute(args.file, env)
    now = now_of(args, env)  # one clock: key expiry (HSM030/031) and grant expiry (HSM021) alike
    try:
        loaded = load(args.file, env, now=now)
    except ManifestError as exc:
        if args.format != "sarif":
            raise  # the CLI reports it (and annotates it in GitHub Actions)
        return _invalid_as_sarif(args, env, exc, manifest)
    live = read_live(source_of(args), env, loaded, key_details=KeyDetail.ATTRIBUTES)
    report = lint(loaded.manifest, loaded.desired, live, now=now)
    _write(args, env, report, loaded.positions, manifest)
    return ExitStatus.OK if args.soft_fail else ExitStatus(report.exit_code)


def _write(
    args: argparse.Namespace, env: Environment, report: LintReport, pos: Positions, manifest: Path
) -> None:
    """The findings in `--format`, and in GitHub Actions as annotations; each names the file its
    line is in (`pos.file_of`: a team's file when `-f` names a directory)."""
    line_of, file_of = pos.line_of, pos.file_of
    root = functools.cache(lambda: ci.repo_root(manifest, _cwd_path(args.sarif_root, env)))  # runs git

    def root_relative(loc: Loc) -> str:  # paths relative to the repository root, where GitHub looks
        file = file_of(loc)
        return ci.relative_uri(env.cwd / file if file else manifest, root())

    if args.format == "sarif":
        uri = ci.relative_uri(manifest, root())
        env.stdout.write(sarif.render_sarif(report, uri, line_of, root().as_uri() + "/", root_relative))
    else:  # text or json
        render = lint_json.render_lint if args.format == "json" else lint_text.render_lint
        env.stdout.write(render(report, str(args.file), line_of, file_of))
    if ci.in_github_actions(env.environ):
        items = [
            (f.severity.value, root_relative(f.location_path), line_of(f.location_path), f.message)
            for f in report.findings
        ]
        env.stderr.write(ci.workflow_annotations(items))


def _invalid_as_sarif(
    args: argparse.Namespace, env: Environment, exc: ManifestError, manifest: Path
) -> ExitStatus:
    """An invalid manifest reported like findings (SARIF results, annotations), exit 1: the upload
    step of a pipeline still gets a file, and the errors show on the pull request."""
    env.stderr.write(ci.manifest_annotations(exc, env))
    root = ci.repo_root(manifest, _cwd_path(args.sarif_root, env))
    errors = ci.located_errors(exc, str(args.file))
    located = [(ci.relative_uri(env.cwd / f, root), line, m) for f, line, m in errors]
    env.stdout.write(sarif.render_invalid(located, root.as_uri() + "/"))
    return ExitStatus.ERROR


def _cwd_path(path: Path | None, env: Environment) -> Path | None:
    return None if path is None else absolute(path, env)
