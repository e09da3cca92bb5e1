"""The plan and apply results as plain text for a terminal or a CI log.

Strings from the manifest, a state file or Azure pass through `visible`: a newline, an ANSI
escape or a bidi override in a name shows as an escape and cannot forge a line of the plan.
"""

from __future__ import annotations

from hsmsync.core.plan import Change
from hsmsync.core.review import PlanReview
from hsmsync.render.escape import visible as v
from hsmsync.render.labels import SYMBOL, change_details, principal_label, sectioned, subject, summary_line


def _change_lines(c: Change) -> list[str]:
    out = [f"  {SYMBOL[c.action.value]} {v(subject(c))}"]
    out += [f"      {v(detail)}" for detail in change_details(c)]
    out.append(f"      why: {v(c.reason)}")
    if c.risks:
        out.append(f"      risk: {v('; '.join(c.risks))}")
    return out


def render_plan(review: PlanReview, header: str = "") -> str:
    plan = review.plan
    out: list[str] = []
    if header:
        out.append(f"hsmsync plan against {v(header)}")
    out.extend(f"note: {v(n)}" for n in plan.notes)
    if plan.is_empty:
        out.append("No changes. Live state matches the manifest.")
    else:
        out.append(f"Plan: {summary_line(plan.summary())}.")
    for w in plan.warnings:
        out.append(f"warning: {v(w)}")
    for r in plan.refusals:
        out.append(f"REFUSED: {v(r)}")
    if review.access_sentences():
        out.append("")
        out.append("Access changes:")
        out.extend(f"  {v(s)}" for s in review.access_sentences())
    if review.lint_lines():
        out.append("")
        out.append("Lint (details: hsmsync lint):")
        out.extend(f"  {v(line)}" for line in review.lint_lines())
    for title, changes in sectioned(plan.changes):
        out.append("")
        out.append(v(title))
        for c in changes:
            out.extend(_change_lines(c))
    if plan.unmanaged:
        out.append("")
        out.append("Unmanaged (live, not in the manifest, left alone):")
        for u in plan.unmanaged:
            where = v(u.target.where)
            out.append(f"  ? {where}: {v(u.role)} -> {v(principal_label(u))} at {v(u.scope)}")
            out.append(f"      why kept: {v(u.reason)}")
    return "\n".join(out) + "\n"
