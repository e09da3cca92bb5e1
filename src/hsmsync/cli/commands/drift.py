"""`hsmsync drift`: report whether live state moved away from the manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from hsmsync.cli.context import Context
from hsmsync.cli.options import add_format, add_planning, guard_of, manifest_of, source_of
from hsmsync.cli.status import ExitStatus
from hsmsync.core.access_delta import state_after_plan
from hsmsync.core.drift import DriftReport, FailOn, flag_unmanaged
from hsmsync.render import drift as drift_render
from hsmsync.workflow import absolute, guard, header_of, lint_after, load, opened_backend, plan_against
from hsmsync_files.textfiles import write_output_file

RENDERERS = {
    "text": drift_render.render_text,
    "json": drift_render.render_json,
    "markdown": drift_render.render_markdown,
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("drift", help="report whether live state moved away from the manifest")
    add_planning(p, "drift")
    add_format(p, RENDERERS)
    p.add_argument("--report", type=Path, help="also write the JSON report to this file")
    p.add_argument(
        "--fail-on",
        choices=[f.value for f in FailOn],
        default=FailOn.DRIFT.value,
        help="exit 2 on: drift (default), unmanaged assignments, or any of both",
    )


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    """The report first, then the verdict: a plan the service or the lockout guard would refuse
    is an error (exit 1, as `plan` and `apply` say), never drift (2): the nightly job must tell
    "someone changed Azure" from "this manifest cannot be applied"."""
    env = ctx.env
    loaded = load(manifest_of(args), env, args.target)
    with opened_backend(source_of(args), env, ctx.progress) as backend:
        planned = plan_against(loaded, backend, guard_of(args))
        header = header_of(planned)
        after = state_after_plan(planned.live, planned.plan)  # lint sees what apply would leave
        findings = lint_after(planned, after).findings
        report = DriftReport(planned.plan, FailOn(args.fail_on), flag_unmanaged(planned.plan, findings))
        env.stdout.write(RENDERERS[args.format](report, header))
        if args.report:
            report_json = drift_render.render_json(report, header)
            write_output_file(
                absolute(args.report, env), report_json, "the drift report", display=args.report
            )
        guard(planned, after)
    return ExitStatus.CHANGES if report.failed else ExitStatus.OK
