"""Fingerprints of live state, so a saved plan can tell that reality moved since it was made."""

from __future__ import annotations

import hashlib
import json

from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment, LiveState


def _canonical(state: LiveState) -> dict[str, object]:
    # Order of lists is the service's listing order, which carries no meaning: sort everything.
    data = state.model_dump(mode="json")
    for hsm in data["hsms"].values():
        hsm["role_assignments"] = sorted(hsm["role_assignments"], key=lambda a: a["name"])
        hsm["role_definitions"] = sorted(hsm["role_definitions"], key=lambda r: r["name"])
        hsm["keys"] = sorted(hsm["keys"])
    data["arm"]["role_assignments"] = sorted(data["arm"]["role_assignments"], key=lambda a: a["name"])
    return data


def fingerprint(state: LiveState) -> str:
    text = json.dumps(_canonical(state), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _what(a: DataRoleAssignment | ArmRoleAssignment) -> str:
    return f"{a.role_definition_id} -> {a.principal_id} at {a.scope}"


def describe_differences(before: LiveState, after: LiveState) -> list[str]:
    """Human sentences for what changed between two snapshots (assignments and role definitions)."""
    out: list[str] = []
    for name in sorted(set(before.hsms) | set(after.hsms)):
        b, a = before.hsms.get(name), after.hsms.get(name)
        b_ra = {r.name: r for r in (b.role_assignments if b else ())}
        a_ra = {r.name: r for r in (a.role_assignments if a else ())}
        for n in sorted(a_ra.keys() - b_ra.keys()):
            r = a_ra[n]
            out.append(f"{name}: assignment {n} appeared ({_what(r)})")
        for n in sorted(b_ra.keys() - a_ra.keys()):
            r = b_ra[n]
            out.append(f"{name}: assignment {n} disappeared ({_what(r)})")
        b_rd = {r.name: r for r in (b.role_definitions if b else ())}
        a_rd = {r.name: r for r in (a.role_definitions if a else ())}
        for n in sorted(b_rd.keys() | a_rd.keys()):
            if b_rd.get(n) != a_rd.get(n):
                out.append(f"{name}: custom role {n} changed")
    b_arm = {r.name: r for r in before.arm.role_assignments}
    a_arm = {r.name: r for r in after.arm.role_assignments}
    for n in sorted(b_arm.keys() ^ a_arm.keys()):
        r = a_arm.get(n) or b_arm[n]
        verb = "appeared" if n in a_arm else "disappeared"
        out.append(f"Azure RBAC: assignment {n} {verb} ({_what(r)})")
    if not out and fingerprint(before) != fingerprint(after):
        out.append("other recorded properties changed")
    return out
