"""Fingerprints of live state, so a saved plan can tell that reality moved since it was made."""

from __future__ import annotations

import hashlib

from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment, LiveState


def fingerprint(state: LiveState) -> str:
    """A digest of everything hsmsync reads; listing order carries no meaning, so items are sorted."""
    h = hashlib.sha256()
    for name in sorted(state.hsms):
        hsm = state.hsms[name]
        admins = ",".join(sorted(hsm.initial_admin_object_ids))
        keys = ",".join(sorted(hsm.keys or ()))
        h.update(f"hsm|{name}|{hsm.url}|{hsm.resource_id}|{admins}|{keys}\n".encode())
        for a in sorted(hsm.role_assignments, key=lambda a: a.name):
            h.update(f"ra|{a.name}|{a.scope}|{a.role_definition_id}|{a.principal_id}\n".encode())
        for r in sorted((*hsm.role_definitions, *(hsm.builtin_role_definitions or ())), key=lambda r: r.name):
            h.update(f"rd|{r.model_dump_json()}\n".encode())
        h.update(f"settings|{hsm.settings.model_dump_json()}\n".encode())
        for d in sorted(hsm.diagnostic_settings, key=lambda d: d.name):
            h.update(f"diag|{d.model_dump_json()}\n".encode())
    for name in sorted(state.vaults):
        vault = state.vaults[name]
        h.update(f"vault|{name}|{vault.resource_id}|{vault.enable_rbac_authorization}\n".encode())
        for p in sorted(vault.access_policies, key=lambda p: p.object_id):
            h.update(f"ap|{p.model_dump_json()}\n".encode())
    for ard in sorted(state.arm.role_definitions, key=lambda r: r.name):
        h.update(f"armrd|{ard.model_dump_json()}\n".encode())
    for b in sorted(state.arm.role_assignments, key=lambda a: a.name):
        h.update(
            f"arm|{b.name}|{b.scope}|{b.role_definition_id}|{b.principal_id}|{b.principal_type}\n".encode()
        )
    return "sha256:" + h.hexdigest()


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
            p.object_id: p for p in (before.vaults[name].access_policies if name in before.vaults else ())
        }
        a_ap = {p.object_id: p for p in (after.vaults[name].access_policies if name in after.vaults else ())}
        for oid in sorted(b_ap.keys() | a_ap.keys()):
            if b_ap.get(oid) != a_ap.get(oid):
                out.append(f"vault {name}: access policy of {oid} changed")
    for name in sorted(set(before.hsms) & set(after.hsms)):
        if before.hsms[name].settings != after.hsms[name].settings:
            out.append(f"{name}: HSM settings changed")
        if before.hsms[name].diagnostic_settings != after.hsms[name].diagnostic_settings:
            out.append(f"{name}: diagnostic settings changed")
    if before.arm.role_definitions != after.arm.role_definitions:
        out.append("Azure RBAC: custom role definitions changed")
    if not out and fingerprint(before) != fingerprint(after):
        out.append("other recorded properties changed")
    return out
