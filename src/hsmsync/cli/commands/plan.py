"""`hsmsync plan`: show what apply would change (and save it with `--out`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hsmsync.cli.context import Context
from hsmsync.cli.options import add_format, add_full_plan_url, add_planning, guard_of, manifest_of, source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.render import PLAN_RENDERERS, render_review
from hsmsync.saved_plan import saved_plan_json
from hsmsync.workflow import absolute, binding, guard, header_of, load, opened_backend, plan_against, review
from hsmsync_files.textfiles import write_output_file


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plan", help="show what apply would change")
    add_planning(p, "plan")
    add_format(p, sorted(PLAN_RENDERERS))
    p.add_argument("--out", type=Path, help="also save the plan (JSON) for `hsmsync apply PLAN`")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 error")
    add_full_plan_url(p)


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env, source, options = ctx.env, source_of(args), guard_of(args)
    loaded = load(manifest_of(args), env, args.target)
    with opened_backend(source, env, ctx.progress) as backend:
        planned = plan_against(loaded, backend, options)
        reviewed = review(planned)
        header = header_of(planned)
        env.stdout.write(
            render_review(args.format, reviewed.review, header, full_plan_url=args.full_plan_url)
        )
        guard(planned, reviewed.after)
    if args.out:
        text = saved_plan_json(planned.plan, planned.request, planned.live, binding(source, env, loaded))
        write_output_file(absolute(args.out, env), text, "the plan", display=args.out)
    if args.detailed_exitcode and not planned.plan.is_empty:
        return ExitStatus.CHANGES
    return ExitStatus.OK
