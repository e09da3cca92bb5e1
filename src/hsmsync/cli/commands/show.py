"""`hsmsync show PLAN`: re-render a saved plan (`plan --out`) in any plan format, offline.

Nothing is read from Azure or a state file: the plan and the live snapshot it was made against
come from the file, and the access delta and matrix are computed again from them (the same pure
functions `plan` uses). A file whose snapshot does not match the fingerprint it was saved with was edited:
it is refused, like any malformed plan file (exit 1, naming the file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hsmsync.cli.context import Context
from hsmsync.cli.options import add_format, add_full_plan_url
from hsmsync.cli.status import ExitStatus
from hsmsync.core.access_delta import plan_access_delta
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.matrix import plan_matrix
from hsmsync.core.plan import Plan
from hsmsync.core.review import PlanReview
from hsmsync.render import PLAN_RENDERERS, render_review
from hsmsync.saved_plan import backend_text, load_saved_plan
from hsmsync.workflow import absolute


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("show", help="re-render a saved plan (plan --out) without reading live state")
    p.add_argument("plan_file", type=Path, help="a plan saved by `hsmsync plan --out`")
    add_format(p, sorted(PLAN_RENDERERS))
    add_full_plan_url(p)


def _principals(plan: Plan) -> dict[str, PrincipalInfo]:
    """The names the plan itself gives principals (the manifest is not read)."""
    out: dict[str, PrincipalInfo] = {}
    for c in plan.changes:
        if c.principal and c.principal_id:
            kind = c.principal_type or "Unknown"
            out[c.principal_id] = PrincipalInfo(c.principal, c.principal_id, kind, None)
    return out


def run(args: argparse.Namespace, ctx: Context) -> ExitStatus:
    env, path = ctx.env, args.plan_file
    # The loader `apply PLAN` uses: every field validated, errors name the file and the field, the
    # live snapshot checked against the fingerprint it was saved with.
    saved = load_saved_plan(absolute(path, env), path)
    plan, snapshot = saved.plan, saved.document.live_snapshot
    try:
        names = _principals(plan)
        access, matrix = plan_access_delta(snapshot, plan, names), plan_matrix(snapshot, plan, names)
        review = PlanReview(plan, access=access, matrix=matrix)
    except ValueError as exc:  # a change that cannot apply to its own snapshot (e.g. a bad object id)
        raise HsmsyncError(f"{path}: saved plan is malformed: {exc}") from None
    header = f"saved plan {path}, made against {backend_text(saved.document.backend)}"
    env.stdout.write(render_review(args.format, review, header, full_plan_url=args.full_plan_url))
    return ExitStatus.OK
