"""Drift reports: JSON for machines, markdown and text summaries for people."""

from __future__ import annotations

from hsmsync.core.drift import DriftReport, FlaggedUnmanaged
from hsmsync.core.plan import Change, Kind, UnmanagedItem
from hsmsync.render.contract import document
from hsmsync.render.escape import fence_ticks, md, visible
from hsmsync.render.labels import SYMBOL, change_details, principal_label, subject

MAX_LINES = 50


def render_json(report: DriftReport, header: str) -> str:
    return document("drift", {**report.to_dict(), "backend": header})


def _status(report: DriftReport) -> str:
    count = len(report.plan.changes) + len(report.flagged)
    parts = [f"{count} drifted" if report.drifted else "in sync"]
    if report.has_unmanaged:
        parts.append(f"{len(report.plan.unmanaged)} unmanaged")
    return ", ".join(parts)


def _line(item: Change | UnmanagedItem) -> str:
    """One line per item: names are made `visible`, so none can start a line of its own. A
    changed definition, policy or setting says which field or permission differs."""
    where = visible(item.target.where)
    risks = item.risks if isinstance(item, Change) else ()
    risk = f" (risk: {visible('; '.join(risks))})" if risks else ""
    if isinstance(item, Change) and item.kind is not Kind.ROLE_ASSIGNMENT:
        details = "; ".join(change_details(item))
        return (
            f"{SYMBOL[item.action.value]} {where}: {visible(subject(item))}"
            + (f": {visible(details)}" if details else "")
            + risk
        )
    mark = SYMBOL[item.action.value] if isinstance(item, Change) else "?"
    who, role, scope = (visible(x) for x in (principal_label(item), item.role, item.scope))
    return f"{mark} {where}: {role} -> {who} at {scope}{risk}"


def _flagged_line(flagged: FlaggedUnmanaged) -> str:
    rules = "; ".join(f"lint {f.rule_id}: {visible(f.message)}" for f in flagged.findings)
    return "!" + _line(flagged.item)[1:] + f" ({rules})"


def _lines(report: DriftReport) -> list[str]:
    flagged = {id(f.item) for f in report.flagged}
    out = [_line(c) for c in report.plan.changes]
    out += [_flagged_line(f) for f in report.flagged]
    out += [_line(u) for u in report.plan.unmanaged if id(u) not in flagged]
    if len(out) > MAX_LINES:
        return [*out[:MAX_LINES], f"... and {len(out) - MAX_LINES} more (see the JSON report)"]
    return out


def render_text(report: DriftReport, header: str) -> str:
    out = [f"hsmsync drift against {visible(header)}: {_status(report)}"]
    out += [f"warning: {visible(w)}" for w in report.plan.warnings]
    out += [f"  {line}" for line in _lines(report)]
    if report.plan.changes:
        out.append("'+' must be created and '-' removed for live state to match the manifest.")
    if report.flagged:
        out.append(
            "'!' is live access the manifest does not declare and lint rates an error: remove it, "
            "or declare it and suppress the finding with a justification."
        )
    return "\n".join(out) + "\n"


def render_markdown(report: DriftReport, header: str) -> str:
    icon = ":white_check_mark:" if not report.failed else ":x:"
    out = [f"### {icon} hsmsync drift: {_status(report)}", "", f"Against: {md(header)}", ""]
    out += [*(f"> :warning: {md(w)}" for w in report.plan.warnings), ""] if report.plan.warnings else []
    lines = _lines(report)
    if lines:
        # Names may hold backticks: the fence is longer than any run of them, so none closes it.
        ticks = fence_ticks("\n".join(lines))
        out += [f"{ticks}diff", *lines, ticks]
    return "\n".join(out) + "\n"
