"""who-can, explain and access-delta answers as plain text (names made `visible`)."""

from __future__ import annotations

from itertools import groupby

from hsmsync.core.access import AccessPath, ExplainedGrant, Explanation
from hsmsync.core.conditions import NOT_EVALUATED, UNDER_CONDITION
from hsmsync.core.plan import Plane
from hsmsync.core.whocan import WhoCan
from hsmsync.render.escape import visible as v


def _line(p: AccessPath) -> str:
    line = f"  {v(p.principal)} ({v(p.principal_type)})  via {v(p.via)}  {v(p.role)} at {v(p.scope)}"
    if p.through:
        line += f"  through {' -> '.join(v(h) for h in p.through)}"
    if p.condition is not None:
        line += f"\n      under a condition ({v(p.condition_verdict or '')}): {v(p.condition)}"
    return line


def render_whocan(answer: WhoCan, question: str, heading: str = "") -> str:
    """`question` reads like "keys/sign/action on contoso, key app-signing". Three lists: who
    can (in force now), who can once a PIM-eligible membership is activated, who Azure does not
    honour (a service principal through a group, on the HSM data plane); then who can obtain."""
    out = [heading] if heading else []
    by_status: dict[str, list[AccessPath]] = {}
    for p in answer.holds:
        by_status.setdefault(p.status, []).append(p)
    holds = by_status.pop("holds", [])
    if not holds:
        out.append(f"Nobody can {v(question)}.")
    else:
        n = len({p.principal_id for p in holds})
        out.append(f"{n} principal{'s' if n != 1 else ''} can {v(question)}:")
        out.extend(_line(p) for p in holds)
    titles = {
        "can once activated": "Can once a PIM-eligible group membership is activated (not now):",
        "not honoured": "Not honoured by the HSM data plane (a service principal's group membership):",
        UNDER_CONDITION: "Holds under a condition, only for the names it allows:",
        NOT_EVALUATED: (
            "Conditional, not evaluated (a condition hsmsync cannot read, or about what it does not know):"
        ),
    }
    for status, paths in by_status.items():
        out.append(titles.get(status, f"{status}:"))
        out.extend(_line(p) for p in paths)
    if answer.can_obtain:
        n = len({p.principal_id for p in answer.can_obtain})
        out.append(f"{n} more can obtain it by granting themselves a role:")
        out.extend(f"{_line(p)}  [{v(p.status)}]" for p in answer.can_obtain)
    return "\n".join(out) + "\n"


def _section(item: ExplainedGrant) -> str:
    g = item.grant
    return f"data plane, HSM {v(g.target)}" if g.plane is Plane.DATA else "management plane (Azure RBAC)"


def render_explain(explanation: Explanation, heading: str = "") -> str:
    e = explanation
    out = [heading] if heading else []
    out.append(f"{v(e.principal)} ({v(e.principal_type)}, {v(e.principal_id)})")
    if not e.has_access:
        out.append("  no access on either plane, and no Key Vault access policy")
        return "\n".join(out) + "\n"
    for title, items in groupby(e.grants, key=_section):
        out.append(f"  {title}:")
        for item in items:
            g = item.grant
            out.append(f"    {v(g.role_name)} at {v(g.scope)}  via {v(g.via)}")
            if item.through:
                out.append(f"      through {' -> '.join(v(h) for h in item.through)}")
            if item.status != "holds":
                out.append(f"      ! {v(item.status)}")
            if g.condition is not None:
                out.append(f"      condition: {v(g.condition)}")
            out.append(f"      can: {v(item.summary)}")
            out.extend(f"      ! not needed: {v(reason)}" for reason in item.unneeded)
    for explained in e.policies:
        p = explained.policy
        out.append(f"  Key Vault {v(p.vault)}:")
        out.append(f"    access policy{v(p.condition)}  via {v(p.via)}")
        out.append(f"      can: {v(p.summary())}")
        out.extend(f"      ! {v(note)}" for note in explained.notes)
    out.extend(f"  can obtain: {v(o)}" for o in e.obtainable)
    unneeded = sum(1 for item in e.grants if item.unneeded)
    if unneeded:
        out.append(f"{unneeded} grant{'s' if unneeded != 1 else ''} not needed by its team.")
    return "\n".join(out) + "\n"
