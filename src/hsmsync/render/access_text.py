"""who-can, explain and access-delta answers as plain text."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from hsmsync.core.access import AccessDelta, AccessPath, ExplainedGrant, Explanation
from hsmsync.core.plan import Plane


def render_whocan(paths: Sequence[AccessPath], question: str, heading: str = "") -> str:
    """`question` reads like "keys/sign/action on contoso, key app-signing"."""
    out = [heading] if heading else []
    if not paths:
        out.append(f"Nobody can {question}.")
        return "\n".join(out) + "\n"
    n = len({p.principal_id for p in paths})
    out.append(f"{n} principal{'s' if n != 1 else ''} can {question}:")
    for p in paths:
        out.append(f"  {p.principal} ({p.principal_type})  via {p.via}  {p.role} at {p.scope}")
    return "\n".join(out) + "\n"


def render_explain(explanation: Explanation, heading: str = "") -> str:
    e = explanation
    out = [heading] if heading else []
    out.append(f"{e.principal} ({e.principal_type}, {e.principal_id})")
    if not e.grants:
        out.append("  no access on either plane")
        return "\n".join(out) + "\n"

    def section(item: ExplainedGrant) -> str:
        g = item.grant
        return f"data plane, HSM {g.target}" if g.plane is Plane.DATA else "management plane (Azure RBAC)"

    for title, items in groupby(e.grants, key=section):
        out.append(f"  {title}:")
        for item in items:
            g = item.grant
            out.append(f"    {g.role_name} at {g.scope}  via {g.via}")
            out.append(f"      can: {item.summary}")
            out.extend(f"      ! not needed: {reason}" for reason in item.unneeded)
    unneeded = sum(1 for item in e.grants if item.unneeded)
    if unneeded:
        out.append(f"{unneeded} grant{'s' if unneeded != 1 else ''} not needed by its team.")
    return "\n".join(out) + "\n"


def render_access_delta(delta: AccessDelta) -> str:
    if delta.is_empty:
        return "No sensitive capability changes hands.\n"
    return "".join(f"- {s}\n" for s in delta.sentences())
