"""The plan as one self-contained HTML page (a CI artifact reviewers open in a browser).

Every string from the manifest, a state file or Azure is escaped (`escape`: html.escape with
quotes, after control and bidi characters are made visible), in text and attribute values alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from hsmsync.core.access_delta import AccessGroup
from hsmsync.core.plan import Change, Kind
from hsmsync.core.review import PlanReview
from hsmsync.render.escape import html as escape
from hsmsync.render.html_page import STYLE
from hsmsync.render.labels import SYMBOL, change_details, principal_label, sectioned, subject, summary_line
from hsmsync.render.matrix import MATRIX_STYLE, matrix_section

MAX_ROWS = 500


def _what(c: Change) -> str:
    if c.kind is Kind.ROLE_ASSIGNMENT:
        return escape(c.role)
    return escape(subject(c))  # labelled: "role definition '…' (id)", "access policy for …"


def _row(c: Change) -> str:
    who = escape(principal_label(c)) if c.principal_id else ""
    details = "<br>".join(f"<code>{escape(d)}</code>" for d in change_details(c))
    risk = "; ".join(escape(r) for r in c.risks)
    cls = f' class="{c.action.value}{" risk" if c.risks else ""}"'
    return (
        f"<tr{cls}><td>{SYMBOL[c.action.value]}</td><td>{_what(c)}</td><td>{who}</td>"
        f"<td><code>{escape(c.scope)}</code></td><td>{details}</td><td>{escape(c.reason)}</td><td>{risk}</td></tr>"
    )


def _access_table(groups: Sequence[AccessGroup]) -> str:
    rows = "".join(
        f"<tr><td>{'can now' if g.gained else 'can no longer'}</td><td>{escape(', '.join(g.principals))}</td>"
        f"<td>{escape(g.ability)}</td><td>{escape(g.where())}</td></tr>"
        for g in groups
    )
    return (
        "<h2>Who can do what after this change</h2><table>"
        f"<tr><th></th><th>principals</th><th>what</th><th>where</th></tr>{rows}</table>"
    )


def render_plan(review: PlanReview, header: str = "") -> str:
    plan = review.plan
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>hsmsync plan</title>',
        f"<style>{STYLE}{MATRIX_STYLE if review.matrix else ''}</style></head><body>",
        "<h1>hsmsync plan</h1>",
        f"<p>Against: {escape(header)}</p>" if header else "",
        "<p><strong>"
        + (
            "No changes. Live state matches the manifest."
            if plan.is_empty
            else escape(summary_line(plan.summary()))
        )
        + "</strong></p>",
    ]
    out += [f'<p class="refused">Refused: {escape(r)}</p>' for r in plan.refusals]
    out += [f"<p>Warning: {escape(w)}</p>" for w in plan.warnings]
    if review.access_groups():
        out.append(_access_table(review.access_groups()))
    if review.matrix is not None and not review.matrix.is_empty:
        out.append(matrix_section(review.matrix, "Access matrix: before → after"))
    if review.lint_lines():
        items = "".join(f"<li>{escape(i)}</li>" for i in review.lint_lines())
        out.append(f"<h2>Lint</h2><ul>{items}</ul>")
    for title, changes in sectioned(plan.changes):
        out.append(f"<h2>{escape(title)} — {len(changes)} change(s)</h2>")
        out.append(
            "<table><tr><th></th><th>what</th><th>principal</th><th>scope</th>"
            "<th>details</th><th>why</th><th>risk</th></tr>"
        )
        out += [_row(c) for c in changes[:MAX_ROWS]]
        if len(changes) > MAX_ROWS:
            out.append(f'<tr><td colspan="7">… and {len(changes) - MAX_ROWS} more</td></tr>')
        out.append("</table>")
    if plan.unmanaged:
        out.append(f"<h2>Unmanaged, left alone — {len(plan.unmanaged)}</h2><table>")
        out.append("<tr><th>where</th><th>role</th><th>principal</th><th>scope</th><th>why kept</th></tr>")
        for u in plan.unmanaged[:MAX_ROWS]:
            out.append(
                f"<tr><td>{escape(u.target.key)}</td><td>{escape(u.role)}</td><td>{escape(principal_label(u))}</td>"
                f"<td><code>{escape(u.scope)}</code></td><td>{escape(u.reason)}</td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(line for line in out if line) + "\n"
