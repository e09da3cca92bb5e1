"""The plan as Markdown, for a pull-request comment: counts first, details collapsed per target.

Every string from the manifest, a state file or Azure goes through `md` (Markdown lines) or
`md_html` (inside `<summary>`), see render/escape.py: it cannot open or close a heading, a table
cell, a `<details>` block or a comment, nor @mention anyone. Names are emphasised with `<b>`, not
`**`, whose meaning depends on the characters next to it (a name ending in a space).
"""

from __future__ import annotations

from hsmsync.core.plan import Change, Kind, Plan
from hsmsync.core.review import PlanReview
from hsmsync.render.escape import md, md_code, md_html
from hsmsync.render.labels import (
    SYMBOL,
    list_delta_text,
    principal_label,
    sectioned,
    short_action,
    summary_line,
)

MAX_ROWS_PER_TARGET = 100
MAX_HIGH_RISK = 25


def _row(c: Change) -> str:
    what = f"role definition <b>{md(c.role)}</b>" if c.kind is Kind.ROLE_DEFINITION else md(c.role)
    who = "" if c.kind is Kind.ROLE_DEFINITION else md(principal_label(c))
    if c.kind in (Kind.SETTING, Kind.DIAGNOSTIC_SETTING, Kind.ACCESS_POLICY) and c.field_changes:
        who = (who + " " if who else "") + "; ".join(md_code(list_delta_text(f)) for f in c.field_changes)
    if c.added_data_actions or c.removed_data_actions:
        delta = [f"+{short_action(a)}" for a in c.added_data_actions]
        delta += [f"-{short_action(a)}" for a in c.removed_data_actions]
        who = " ".join(md_code(d) for d in delta)
    return f"| `{SYMBOL[c.action.value]}` | {what} | {who} | {md_code(c.scope)} | {md(c.reason)} |"


def _where(target: str) -> str:
    return "Azure RBAC" if target == "arm" else md(target)


def _high_risk(plan: Plan) -> list[str]:
    risky = [c for c in plan.changes if c.risks]
    if not risky:
        return []
    out = ["", f"#### :warning: High-risk changes ({len(risky)})", ""]
    for c in risky[:MAX_HIGH_RISK]:
        who = f" → {md(principal_label(c))}" if c.principal_id else ""
        risks = md("; ".join(c.risks))
        out.append(
            f"- `{SYMBOL[c.action.value]}` <b>{md(c.role)}</b>{who} at {md_code(c.scope)} "
            f"on {_where(c.target)}: {risks}"
        )
    if len(risky) > MAX_HIGH_RISK:
        out.append(f"- … and {len(risky) - MAX_HIGH_RISK} more (see the details below)")
    return out


def _review_sections(review: PlanReview) -> list[str]:
    out: list[str] = []
    sentences = review.access_sentences()
    if sentences:
        out += ["", "#### Who can do what after this change", ""]
        out += [f"- {md(s, starts_block=True)}" for s in sentences[:MAX_HIGH_RISK]]
        if len(sentences) > MAX_HIGH_RISK:
            out.append(f"- … and {len(sentences) - MAX_HIGH_RISK} more")
    lines = review.lint_lines()
    if lines:
        out += ["", f"#### Lint findings ({len(lines)})", ""]
        out += [f"- {md(line, starts_block=True)}" for line in lines[:MAX_HIGH_RISK]]
        if len(lines) > MAX_HIGH_RISK:
            out.append(f"- … and {len(lines) - MAX_HIGH_RISK} more (run `hsmsync lint`)")
    return out


def render_plan(review: PlanReview, header: str = "") -> str:
    plan = review.plan
    out = ["### hsmsync plan", ""]
    if header:
        out += [f"Against: {md(header)}", ""]
    out.append(
        "**No changes.** Live state matches the manifest."
        if plan.is_empty
        else f"**{summary_line(plan.summary())}.**"
    )
    out += [f"> :warning: {md(w)}" for w in plan.warnings]
    out += [f"> :no_entry: **Refused:** {md(r)}" for r in plan.refusals]
    out += _high_risk(plan)
    out += _review_sections(review)
    for title, changes in sectioned(plan.changes):
        out += [
            "",
            f"<details><summary>{md_html(title)}: {len(changes)} change(s)</summary>",
            "",
        ]
        out += ["| | role | principal | scope | why |", "|---|---|---|---|---|"]
        out += [_row(c) for c in changes[:MAX_ROWS_PER_TARGET]]
        if len(changes) > MAX_ROWS_PER_TARGET:
            out.append(f"| | … and {len(changes) - MAX_ROWS_PER_TARGET} more | | | |")
        out += ["", "</details>"]
    if plan.unmanaged:
        out += ["", f"<details><summary>Unmanaged, left alone: {len(plan.unmanaged)}</summary>", ""]
        out += ["| where | role | principal | scope | why kept |", "|---|---|---|---|---|"]
        for u in plan.unmanaged[:MAX_ROWS_PER_TARGET]:
            who = md(principal_label(u))
            out.append(f"| {_where(u.target)} | {md(u.role)} | {who} | {md_code(u.scope)} | {md(u.reason)} |")
        out += ["", "</details>"]
    return "\n".join(out) + "\n"
