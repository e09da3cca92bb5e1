"""The plan and apply results as plain text for a terminal or a CI log.

Strings from the manifest, a state file or Azure pass through `visible`: a newline, an ANSI
escape or a bidi override in a name shows as an escape and cannot forge a line of the plan.
"""

from __future__ import annotations

from hsmsync.core.plan import Change, Kind
from hsmsync.core.review import PlanReview
from hsmsync.render.escape import visible as v
from hsmsync.render.labels import (
    SYMBOL,
    field_change_text,
    list_delta_text,
    principal_label,
    sectioned,
    short_action,
    summary_line,
)


def _resource_line(c: Change) -> str:
    sym = SYMBOL[c.action.value]
    if c.kind is Kind.ACCESS_POLICY:
        head = f"  {sym} access policy for {v(principal_label(c))}"
        if c.action.value == "create":
            lists = "; ".join(f"{f.path}: {v(', '.join(f.new))}" for f in c.field_changes if f.new)
            return f"{head}\n      {lists}"
        return head + "".join(f"\n      {v(list_delta_text(f))}" for f in c.field_changes)
    if c.kind is Kind.SETTING:
        return "\n".join(f"  ~ {v(field_change_text(f))}" for f in c.field_changes)
    if c.kind is Kind.DIAGNOSTIC_SETTING:
        line = f"  {sym} audit logging '{v(c.name)}'"
        return line + "".join(f"\n      {v(field_change_text(f))}" for f in c.field_changes)
    line = f"  {sym} Azure role definition '{v(c.role)}' ({v(c.role_id)})"
    return line + "".join(f"\n      {v(list_delta_text(f))}" for f in c.field_changes)


def _change_line(c: Change) -> str:
    sym = SYMBOL[c.action.value]
    if c.payload is not None or c.kind in (Kind.ACCESS_POLICY, Kind.SETTING, Kind.DIAGNOSTIC_SETTING):
        return _resource_line(c)
    if c.kind is Kind.ROLE_DEFINITION:
        line = f"  {sym} role definition '{v(c.role)}' ({v(c.role_id)})"
        details = [f"+{v(short_action(a))}" for a in c.added_data_actions]
        details += [f"-{v(short_action(a))}" for a in c.removed_data_actions]
        others = [f.path for f in c.field_changes if f.path not in ("data_actions",)]
        if c.action.value == "update" and others:
            details.append("changed: " + v(", ".join(others)))
        if details:
            line += "\n      " + " ".join(details)
        return line
    who = v(principal_label(c))
    if c.principal_type:
        who += f" ({v(c.principal_type)})"
    return f"  {sym} {v(c.role)} -> {who} at {v(c.scope)}"


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
            out.append(_change_line(c))
            out.append(f"      why: {v(c.reason)}")
            if c.risks:
                out.append(f"      risk: {v('; '.join(c.risks))}")
    if plan.unmanaged:
        out.append("")
        out.append("Unmanaged (live, not in the manifest, left alone):")
        for u in plan.unmanaged:
            where = v(u.target) if u.target != "arm" else "Azure RBAC"
            out.append(f"  ? {where}: {v(u.role)} -> {v(principal_label(u))} at {v(u.scope)}")
            out.append(f"      why kept: {v(u.reason)}")
    return "\n".join(out) + "\n"
