"""`hsmsync apply [PLAN]`: make live state match the manifest (or exactly a saved plan)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from hsmsync.applier import DEFAULT_EFFECT_WAIT, apply_plan, verify_effect
from hsmsync.bootstrap import run_bootstrap
from hsmsync.cli.context import Context
from hsmsync.cli.options import add_format, add_planning, guard_of, manifest_of, source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.results import ApplyResult
from hsmsync.core.review import PlanReview
from hsmsync.environment import Environment
from hsmsync.render import PLAN_RENDERERS
from hsmsync.render.results import (
    render_apply_json,
    render_apply_markdown,
    render_apply_result,
    render_effect_summary,
)
from hsmsync.workflow import (
    Planned,
    caller_of,
    check_saved_plan,
    guard,
    header_of,
    load,
    opened_backend,
    plan_against,
    refuse_refused,
    replan_saved,
    resolve_callers,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("apply", help="make live state match the manifest")
    add_planning(p, "apply")
    p.add_argument("plan_file", nargs="?", type=Path, help="a plan saved by `plan --out`")
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--bootstrap",
        action="store_true",
        help="when discovery is denied, first apply the manifest's grant that gives the applier the right",
    )
    add_format(
        p,
        ["text", "json", "markdown"],
        "json: the results as JSON on stdout; markdown: a report for a CI job summary on stdout",
    )
    wait = p.add_mutually_exclusive_group()
    wait.add_argument(
        "--wait",
        type=_duration,
        default=DEFAULT_EFFECT_WAIT,
        metavar="DURATION",
        help="how long to wait for the applied changes to be seen in effect, e.g. 90s, 15m "
        f"(default {DEFAULT_EFFECT_WAIT / 60:g}m: a second HSM region can lag about 6 minutes)",
    )
    wait.add_argument(
        "--no-wait",
        action="store_true",
        help="do not read the applied changes back (they may not be in effect yet)",
    )


def _duration(text: str) -> float:
    """Seconds, or a number with `s`, `m` or `h`: a usage error when it is none of these."""
    raw = text.strip().lower()
    factor = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(raw[-1:])
    try:
        seconds = float(raw[:-1] if factor else raw) * (factor or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration (e.g. 90s, 15m)") from None
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration of 0 seconds or more")
    return seconds


def confirmed(args: argparse.Namespace, env: Environment, question: str, out: TextIO) -> bool:
    """`out`: where the question goes (stderr when stdout carries JSON)."""
    if args.auto_approve:
        return True
    if not env.stdin_isatty:
        raise HsmsyncError("refusing to apply without confirmation: not on a terminal (use --auto-approve)")
    out.write(f"\n{question} Only 'yes' is accepted: ")
    out.flush()
    return env.stdin.readline().strip() == "yes"


_REPORTS = {"json": render_apply_json, "markdown": render_apply_markdown}


def _human(args: argparse.Namespace, env: Environment) -> TextIO:
    """Where the plan, the prompt and notes go: with --format json or markdown stdout holds only
    the report."""
    return env.stdout if args.format == "text" else env.stderr


def _bootstrap(args: argparse.Namespace, ctx: Context) -> None:
    env = ctx.env
    loaded = load(manifest_of(args), env, args.target)
    options = resolve_callers(guard_of(args), loaded)
    human = _human(args, env)
    with opened_backend(source_of(args), env, ctx.progress) as backend:
        granted = run_bootstrap(
            loaded.desired,
            backend,
            caller=lambda: caller_of(options, backend),
            confirmed=lambda: confirmed(args, env, "Apply this bootstrap grant?", human),
            out=human,
        )
        if granted is None or args.no_wait:
            return
        # Discovery is about to use the grant: Azure's 201 comes before the grant is in effect.
        checked = verify_effect(granted, backend, bound=args.wait, reporter=ctx.progress)
        human.write(render_effect_summary(checked))
        if not checked.in_effect:
            raise HsmsyncError(
                "the bootstrap grant is not yet in effect; nothing else was attempted: run the same "
                "apply again in a few minutes (or with a longer --wait)"
            )


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    if args.bootstrap and args.plan_file:
        raise HsmsyncError("--bootstrap works from the manifest; it cannot be used with a saved plan")
    if args.bootstrap:
        _bootstrap(args, ctx)
    env, source, options = ctx.env, source_of(args), guard_of(args)
    # A saved plan is checked against the manifest and this backend before any backend is opened.
    manifest = manifest_of(args)
    saved = check_saved_plan(args.plan_file, manifest, source, env, args.target) if args.plan_file else None
    loaded = saved.loaded if saved is not None else load(manifest, env, args.target)
    with opened_backend(source, env, ctx.progress) as backend:
        if saved is None:
            planned = plan_against(loaded, backend, options)
        else:
            planned = replan_saved(saved, backend, options)
            _human(args, env).write(saved.verified(args.plan_file))
        return _apply(args, ctx, planned)


def _apply(args: argparse.Namespace, ctx: Context, planned: Planned) -> ExitStatus:
    env, plan, backend, human = ctx.env, planned.plan, planned.backend, _human(args, ctx.env)
    human.write(PLAN_RENDERERS["text"](PlanReview(plan), header_of(planned)))
    refuse_refused(plan)
    if plan.is_empty:
        if args.format != "text":
            env.stdout.write(_REPORTS[args.format](ApplyResult(()), backend.describe()))
        return ExitStatus.OK
    guard(planned)
    if not confirmed(args, env, "Apply these changes?", human):
        human.write("Apply cancelled; nothing was changed.\n")
        return ExitStatus.ERROR
    if ctx.progress is not None:
        ctx.progress.apply_started(len(plan.changes))
    result = apply_plan(plan, backend, reporter=ctx.progress, workers=backend.workers)
    if ctx.progress is not None:
        ctx.progress.apply_finished()
    if not result.interrupted:  # applied means in effect: read the changes back
        bound = None if args.no_wait else args.wait
        result = verify_effect(result, backend, bound=bound, reporter=ctx.progress)
    if args.format == "text":
        env.stdout.write("\n" + render_apply_result(result) + render_effect_summary(result))
    else:
        env.stdout.write(_REPORTS[args.format](result, backend.describe()))
    for note in backend.other_writers():
        env.stderr.write(f"warning: {note}\n")
    return _status(result, ctx)


def _status(result: ApplyResult, ctx: Context) -> ExitStatus:
    if result.unexpected is not None:
        ctx.env.stderr.write("unexpected error during apply: the report above says which change it failed\n")
        ctx.traceback_hint(result.unexpected)
        return ExitStatus.UNEXPECTED
    if result.interrupted:
        ctx.env.stderr.write("interrupted\n")
        return ExitStatus.INTERRUPTED
    if not result.ok:
        return ExitStatus.ERROR
    return ExitStatus.OK if result.in_effect else ExitStatus.NOT_IN_EFFECT
