"""Fingerprints of live state, so a saved plan can tell that reality moved since it was made."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment, LiveState


def fingerprint(state: LiveState) -> str:
    """A digest of the whole live state model, so no field (one added later too) escapes the stale
    check. Listing order carries no meaning, so every list is sorted first."""
    canonical = json.dumps(_canonical(state.model_dump(mode="json")), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


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
        arm = a_arm.get(n) or b_arm[n]
        verb = "appeared" if n in a_arm else "disappeared"
        out.append(f"Azure RBAC: assignment {n} {verb} ({_what(arm)})")
    for name in sorted(set(before.vaults) | set(after.vaults)):
        b_ap = {
            p.entry_key: p for p in (before.vaults[name].access_policies if name in before.vaults else ())
        }
        a_ap = {p.entry_key: p for p in (after.vaults[name].access_policies if name in after.vaults else ())}
        for entry in sorted(b_ap.keys() | a_ap.keys()):
            if b_ap.get(entry) != a_ap.get(entry):
                who = entry.replace("+", " via application ")
                out.append(f"vault {name}: access policy of {who} changed")
    for name in sorted(set(before.hsms) & set(after.hsms)):
        if before.hsms[name].settings != after.hsms[name].settings:
            out.append(f"{name}: HSM settings changed")
        if before.hsms[name].diagnostic_settings != after.hsms[name].diagnostic_settings:
            out.append(f"{name}: diagnostic settings changed")
    if before.arm.role_definitions != after.arm.role_definitions:
        out.append("Azure RBAC: custom role definitions changed")
    out += _other_differences(before, after)
    if not out and fingerprint(before) != fingerprint(after):
        out.append("other recorded properties changed")
    return out


def _other_differences(before: LiveState, after: LiveState) -> list[str]:
    """What the lines above do not name: the tenant, HSMs and vaults appearing or going, a
    vault's own properties (its URL, tenant, permission model)."""
    out = [] if before.tenant_id == after.tenant_id else ["the tenant id changed"]
    for what, b_names, a_names in (("HSM", before.hsms, after.hsms), ("vault", before.vaults, after.vaults)):
        out += [f"{what} {n} appeared" for n in sorted(a_names.keys() - b_names.keys())]
        out += [f"{what} {n} disappeared" for n in sorted(b_names.keys() - a_names.keys())]
    for name in sorted(before.vaults.keys() & after.vaults.keys()):
        b, a = (
            v.model_copy(update={"access_policies": ()}) for v in (before.vaults[name], after.vaults[name])
        )
        if b != a:
            out.append(f"vault {name}: its properties changed (URL, tenant or permission model)")
    return out
