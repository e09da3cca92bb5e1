"""The plan as Markdown, for a pull-request comment: counts first, then what needs a reviewer's eye,
then details collapsed per target, all within `MAX_CHARS`.

The budget holds by construction (render/budget.py): counts, refusals and warnings, high-risk
changes, the access delta and lint come first, each up to a share of the budget, then the details
until the budget is spent; a closing note counts what was left out and says where the full plan is.

Every string from the manifest, a state file or Azure goes through `md` (Markdown lines) or
`md_html` (inside `<summary>`), see render/escape.py: it cannot open or close a heading, a table
cell, a `<details>` block or a comment, nor @mention anyone. Names are emphasised with `<b>`, not
`**`, whose meaning depends on the characters next to it (a name ending in a space).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hsmsync.core.access_delta import AccessGroup
from hsmsync.core.plan import Change, Kind, Plane, UnmanagedItem
from hsmsync.core.review import PlanReview
from hsmsync.core.target import Target
from hsmsync.render.budget import BudgetedLines, cost
from hsmsync.render.escape import md, md_code, md_html
from hsmsync.render.labels import SYMBOL, change_details, principal_label, sectioned, summary_line

MAX_CHARS = 60_000  # GitHub refuses comments over 65,536 characters; the rest is headroom
# Where each part must end, as shares of the budget: what is left of one share goes to the next.
_UNTIL = {"notices": 0.1, "risk": 0.35, "access": 0.5, "lint": 0.55}
FULL_PLAN_ELSEWHERE = (
    "the HTML and JSON plans of this run (`hsmsync plan --format html|json`, "
    "or `hsmsync show PLAN` on the saved plan)"
)


def _what(c: Change) -> str:
    if c.kind is Kind.ROLE_DEFINITION:
        azure = "Azure " if c.plane is Plane.MANAGEMENT else ""
        return f"{azure}role definition <b>{md(c.role)}</b> {md_code(c.role_id)}"
    if c.kind is Kind.ACCESS_POLICY:
        return "access policy"
    if c.kind is Kind.DIAGNOSTIC_SETTING:
        return f"audit logging <b>{md(c.name)}</b>"
    if c.kind is Kind.DATA_SETTING:
        return f"data-plane setting <b>{md(c.name)}</b>"
    return md(c.role)  # an assignment's role, or what settings belong to ("HSM settings", ...)


def _row(c: Change) -> str:
    who = md(principal_label(c)) if c.principal_id else ""
    details = "; ".join(md_code(d) for d in change_details(c))
    why = md(c.reason) + (f" — risk: {md('; '.join(c.risks))}" if c.risks else "")
    return f"| `{SYMBOL[c.action.value]}` | {_what(c)} | {who} | {md_code(c.scope)} | {details} | {why} |"


def _unmanaged_row(u: UnmanagedItem) -> str:
    who = md(principal_label(u))
    return f"| {_where(u.target)} | {md(u.role)} | {who} | {md_code(u.scope)} | {md(u.reason)} |"


def _where(target: Target) -> str:
    return "Azure RBAC" if target.is_arm else md(target.key)


def _risk_item(c: Change) -> str:
    who = f" → {md(principal_label(c))}" if c.principal_id else ""
    return (
        f"- `{SYMBOL[c.action.value]}` <b>{md(c.role)}</b>{who} at {md_code(c.scope)} "
        f"on {_where(c.target)}: {md('; '.join(c.risks))}"
    )


def _access_row(g: AccessGroup) -> str:
    change = "can now" if g.gained else "can no longer"
    return f"| {change} | {md(', '.join(g.principals))} | {md(g.ability)} | {md(g.where())} |"


def _more_row(columns: int) -> Callable[[int], list[str]]:
    return lambda n: [f"| | … and {n} more (see the full plan) |" + " |" * (columns - 2)]


def _more_notice(n: int) -> list[str]:
    return [f"> … and {n} more (see the full plan)"]


def _more_item(n: int) -> list[str]:
    return [f"- … and {n} more (see the full plan)"]


@dataclass
class _LeftOut:
    notices: int = 0
    risky: int = 0
    access: int = 0
    lint: int = 0
    changes: int = 0
    unmanaged: int = 0

    def parts(self) -> list[str]:
        words = (
            (self.notices, "warning or refusal", "warnings or refusals"),
            (self.risky, "high-risk change", "high-risk changes"),
            (self.access, "access change", "access changes"),
            (self.lint, "lint finding", "lint findings"),
            (self.changes, "change in the details", "changes in the details"),
            (self.unmanaged, "unmanaged item", "unmanaged items"),
        )
        return [f"{n:,} {one if n == 1 else many}" for n, one, many in words if n]


def _closing(left_out: _LeftOut, full_plan_url: str, limit: int) -> list[str]:
    where = _link(full_plan_url) if full_plan_url else FULL_PLAN_ELSEWHERE
    parts = left_out.parts()
    if not parts:
        return ["", f"Full plan: {where}."] if full_plan_url else []
    return [
        "",
        "---",
        f"**Not shown here** (a comment holds {limit:,} characters at most): "
        f"{', '.join(parts)}. The full plan: {where}.",
    ]


def _link(url: str) -> str:
    """An autolink for a plain http(s) URL; anything else is shown as escaped text."""
    return f"<{url}>" if re.fullmatch(r"https?://[^\s<>`]+", url) else md(url)


def _worst_case(review: PlanReview) -> _LeftOut:
    plan = review.plan
    return _LeftOut(
        notices=len(plan.warnings) + len(plan.refusals),
        risky=len(plan.changes),
        access=len(review.access_groups()),
        lint=len(review.lint_lines()),
        changes=len(plan.changes),
        unmanaged=len(plan.unmanaged),
    )


def _reviewer_sections(w: BudgetedLines, review: PlanReview, left: _LeftOut) -> None:
    plan = review.plan
    share = {k: int(v * w.limit) for k, v in _UNTIL.items()}
    notices = [f"> :no_entry: **Refused:** {md(r)}" for r in plan.refusals]
    notices += [f"> :warning: {md(w)}" for w in plan.warnings]
    left.notices = w.section([""], notices, _more_notice, until=share["notices"])
    risky = [c for c in plan.changes if c.risks]
    head = ["", f"#### :warning: High-risk changes ({len(risky)})", ""]
    left.risky = w.section(head, [_risk_item(c) for c in risky], _more_item, until=share["risk"])
    groups = review.access_groups()
    head = ["", f"#### Who can do what after this change ({len(groups)})", ""]
    head += ["| | principals | what | where |", "|---|---|---|---|"]
    rows = [_access_row(g) for g in groups]
    left.access = w.section(head, rows, _more_row(4), until=share["access"])
    lines = review.lint_lines()
    head = ["", f"#### Lint findings ({len(lines)})", ""]
    items = [f"- {md(line, starts_block=True)}" for line in lines]
    left.lint = w.section(head, items, _more_item, until=share["lint"])


def _details(w: BudgetedLines, sections: Sequence[tuple[str, list[Change]]], left: _LeftOut) -> None:
    """Each target's changes, collapsed; the budget left is shared evenly among the targets still to
    come (what one does not use goes to the next), so every target shows its first rows."""
    for i, (title, changes) in enumerate(sections):
        head = ["", f"<details><summary>{md_html(title)}: {len(changes)} change(s)</summary>", ""]
        head += ["| | what | principal | scope | details | why |", "|---|---|---|---|---|---|"]
        rows = [_row(c) for c in changes]
        until = w.used + (w.limit - w.reserved - w.used) // (len(sections) - i)
        left.changes += w.section(head, rows, _more_row(6), ["", "</details>"], until=until)


def render_plan(
    review: PlanReview, header: str = "", *, full_plan_url: str = "", limit: int = MAX_CHARS
) -> str:
    """`full_plan_url`: where the full plan is (e.g. the CI run's artifacts); `limit`: the budget."""
    plan = review.plan
    w = BudgetedLines(limit)
    w.add(["### hsmsync plan", ""])
    if header:  # what the plan was made against: never allowed to eat the budget
        against = f"Against: {md(header)}"
        w.add([against if len(against) <= limit // 20 else "Against: (a description too long to show)", ""])
    w.add(
        [
            "**No changes.** Live state matches the manifest."
            if plan.is_empty
            else f"**{summary_line(plan.summary())}.**"
        ]
    )
    w.reserved = cost(_closing(_worst_case(review), full_plan_url, limit))
    left = _LeftOut()
    _reviewer_sections(w, review, left)
    _details(w, list(sectioned(plan.changes)), left)
    head = ["", f"<details><summary>Unmanaged, left alone: {len(plan.unmanaged)}</summary>", ""]
    head += ["| where | role | principal | scope | why kept |", "|---|---|---|---|---|"]
    rows = [_unmanaged_row(u) for u in plan.unmanaged]
    left.unmanaged = w.section(head, rows, _more_row(5), ["", "</details>"])
    w.reserved = 0
    w.add(_closing(left, full_plan_url, limit))
    return w.text()
