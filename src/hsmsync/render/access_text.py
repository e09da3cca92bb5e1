"""who-can, explain and access-delta answers as plain text (names made `visible`)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from hsmsync.core.access import AccessPath, ExplainedGrant, Explanation
from hsmsync.core.plan import Plane
from hsmsync.render.escape import visible as v


def render_whocan(paths: Sequence[AccessPath], question: str, heading: str = "") -> str:
    """`question` reads like "keys/sign/action on contoso, key app-signing"."""
    out = [heading] if heading else []
    if not paths:
        out.append(f"Nobody can {v(question)}.")
        return "\n".join(out) + "\n"
    n = len({p.principal_id for p in paths})
    out.append(f"{n} principal{'s' if n != 1 else ''} can {v(question)}:")
    for p in paths:
        out.append(f"  {v(p.principal)} ({v(p.principal_type)})  via {v(p.via)}  {v(p.role)} at {v(p.scope)}")
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
            out.append(f"      can: {v(item.summary)}")
            out.extend(f"      ! not needed: {v(reason)}" for reason in item.unneeded)
    for explained in e.policies:
        p = explained.policy
        out.append(f"  Key Vault {v(p.vault)}:")
        out.append(f"    access policy  via {v(p.via)}")
        out.append(f"      can: {v(p.summary())}")
        out.extend(f"      ! {v(note)}" for note in explained.notes)
    unneeded = sum(1 for item in e.grants if item.unneeded)
    if unneeded:
        out.append(f"{unneeded} grant{'s' if unneeded != 1 else ''} not needed by its team.")
    return "\n".join(out) + "\n"
