"""Brownfield export: a manifest document that declares exactly what exists.

Pure: (live state, known principal names) -> a dict in the manifest's shape, deterministic, such
that planning it against the same live state yields no changes. Principals are named and typed,
in this order, by a manifest that declares them (its key, type and name), by the directory
(Microsoft Graph, or a state file's `directory`: display name and type), by their ARM
assignments (type only), and only then `principal-<id prefix>` (typed ServicePrincipal, with a
note). Every ARM assignment read is declared, except at the tenant root, which a manifest cannot
name (left out, with a note).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hsmsync.core.catalog import builtin_data_roles, management_role_map, management_roles
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.state import PERMISSION_LISTS, HsmState, LiveState, Permission, VaultState
from hsmsync.core.state_directory import DirectoryObject

Entry = tuple[str, str, str, str]  # plane, target, role reference, scope
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Export:
    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "x"


class _Names:
    """Stable, unique manifest keys for principals and roles."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def unique(self, base: str) -> str:
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}-{n}", n + 1
        self.taken.add(name)
        return name


def export_manifest(
    live: LiveState,
    *,
    hsms: Iterable[str] | None = None,
    directory: Iterable[DirectoryObject] = (),
    principals: Mapping[str, PrincipalInfo] | None = None,
) -> Export:
    """`directory`: Entra ID objects to name principals by; `principals` (by object id): a
    manifest's principals, whose keys, types and names win."""
    selected = sorted(hsms) if hsms is not None else sorted(live.hsms)
    unknown = [h for h in selected if h not in live.hsms]
    if unknown:
        raise ValueError(f"no such HSM: {', '.join(unknown)}; known: {', '.join(sorted(live.hsms))}")
    known = {d.id: d for d in (*(live.directory or ()), *directory)}
    out = _Collected()
    doc: dict[str, Any] = {"version": 1, "principals": {}, "hsms": {}, "roles": {}}
    role_keys = _Names()
    for name in selected:
        _export_hsm(name, live.hsms[name], doc, role_keys, out)
    _export_arm_assignments(live, _arm_roles_doc(live, doc, role_keys), out)

    vault_ids = {p.object_id for vault in live.vaults.values() for p in vault.access_policies}
    keys = _principals_doc(
        doc, sorted(set(out.entries) | vault_ids), _Known(principals or {}, known, out.types), out.notes
    )
    doc["teams"] = _teams_doc(out.entries, keys)
    if live.vaults:
        doc["vaults"] = {name: _vault_doc(v, keys) for name, v in sorted(live.vaults.items())}
    doc["management"] = {"prune": False}
    for section in ("roles", "arm_roles"):
        if not doc.get(section):
            doc.pop(section, None)
    return Export(doc, out.notes)


Entries = dict[str, set[Entry]]  # principal id -> what it holds


@dataclass
class _Collected:
    """What the export gathers as it reads live state."""

    entries: Entries = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # principal id -> type ARM reports
    notes: list[str] = field(default_factory=list)


def _export_hsm(name: str, hsm: HsmState, doc: dict[str, Any], role_keys: _Names, out: _Collected) -> None:
    """One HSM's document, its custom roles, and its assignments into `entries`."""
    doc["hsms"][name] = _hsm_doc(hsm)
    custom_refs: dict[str, str] = {}
    for role in sorted(hsm.role_definitions, key=lambda r: (r.role_name.lower(), r.name)):
        key = role_keys.unique(_slug(role.role_name or role.name))
        custom_refs[role.name] = key
        doc["roles"][key] = {
            "hsm": name,
            "name": role.role_name,
            "description": role.description,
            "id": role.name,
            **_permissions_doc(role.permissions, ("data_actions", "not_data_actions")),
        }
    builtin = {r.name: r.role_name for r in (hsm.builtin_role_definitions or builtin_data_roles())}
    for a in hsm.role_assignments:
        ref = custom_refs.get(a.role_definition_id) or builtin.get(a.role_definition_id)
        if ref is None:
            gone = a.role_definition_id
            out.notes.append(
                f"{name}: assignment {a.name} uses role {gone}, which no longer exists; left out"
            )
            continue
        out.entries.setdefault(a.principal_id, set()).add(("data", name, ref, a.scope))


def _export_arm_assignments(live: LiveState, arm_roles: Mapping[str, str], out: _Collected) -> None:
    """Every Azure role assignment read, by role name (custom roles by their key)."""
    listed = live.arm.builtin_role_definitions
    mgmt_names = {guid: r.role_name for guid, r in management_role_map(listed=listed).items()}
    builtin_mgmt = {r.name for r in management_roles()} | {r.name for r in listed or ()}
    for arm in live.arm.role_assignments:
        rid = arm.role_definition_id
        if arm.scope.strip("/") == "":
            out.notes.append(
                f"Azure RBAC assignment {arm.name} ({arm.principal_id}) is at the tenant root '/', "
                "which a manifest cannot declare; left out"
            )
            continue
        ref = arm_roles.get(rid) or (mgmt_names[rid] if rid in builtin_mgmt else rid)
        out.entries.setdefault(arm.principal_id, set()).add(("management", "arm", ref, arm.scope))
        out.types[arm.principal_id] = arm.principal_type


def _hsm_doc(hsm: HsmState) -> dict[str, Any]:
    out: dict[str, Any] = {"url": hsm.url, "resource_id": hsm.resource_id, "prune": True}
    s = hsm.settings
    out["settings"] = {
        "purge_protection": s.purge_protection,
        "soft_delete_retention_days": s.soft_delete_retention_days,
        "public_network_access": s.public_network_access,
        "network_acls": {
            "default_action": s.network_acls.default_action,
            "bypass": s.network_acls.bypass,
            "ip_rules": list(s.network_acls.ip_rules),
        },
    }
    audit = next(
        (d for d in sorted(hsm.diagnostic_settings, key=lambda d: d.name) if "AuditEvent" in d.categories),
        None,
    )
    if audit is not None:
        logging: dict[str, Any] = {"name": audit.name, "categories": list(audit.categories)}
        if audit.storage_account_id:
            logging["storage_account"] = audit.storage_account_id
        if audit.workspace_id:
            logging["workspace"] = audit.workspace_id
        if audit.event_hub_authorization_rule_id:
            hub: dict[str, Any] = {"authorization_rule_id": audit.event_hub_authorization_rule_id}
            if audit.event_hub_name:
                hub["name"] = audit.event_hub_name
            logging["event_hub"] = hub
        out["logging"] = logging
    if hsm.data_settings is not None:  # read, not assumed: declared as listed, defaults too (pinned)
        listed = sorted(hsm.data_settings, key=lambda d: d.name)
        out["data_settings"] = {d.name: d.value.lower() == "true" for d in listed}
    return out


def _permissions_doc(blocks: tuple[Permission, ...], lists: tuple[str, ...]) -> dict[str, Any]:
    """One block as the manifest's flat lists; several as `permissions`, kept apart because Azure
    evaluates each block on its own (merging them would change what the role allows)."""

    def lists_of(block: Permission) -> dict[str, list[str]]:
        return {name: list(getattr(block, name)) for name in lists if getattr(block, name)}

    if len(blocks) == 1:
        return lists_of(blocks[0])
    return {"permissions": [lists_of(b) for b in blocks]}


def _arm_roles_doc(live: LiveState, doc: dict[str, Any], names: _Names) -> dict[str, str]:
    refs: dict[str, str] = {}
    roles: dict[str, Any] = {}
    for role in sorted(live.arm.role_definitions, key=lambda r: (r.role_name.lower(), r.name)):
        key = names.unique(_slug(role.role_name))
        refs[role.name] = key
        body: dict[str, Any] = {"name": role.role_name, "description": role.description, "id": role.name}
        body.update(_permissions_doc(role.permissions, PERMISSION_LISTS))
        body["assignable_scopes"] = list(role.assignable_scopes)
        roles[key] = body
    doc["arm_roles"] = roles
    return refs


@dataclass(frozen=True)
class _Known:
    """What names and types a principal, strongest first."""

    manifest: Mapping[str, PrincipalInfo]  # by object id
    directory: Mapping[str, DirectoryObject]  # by object id
    arm_types: Mapping[str, str]  # by object id: the principalType of its ARM assignments

    def type_of(self, pid: str) -> str | None:
        if pid in self.manifest:
            return self.manifest[pid].type
        if pid in self.directory:
            return self.directory[pid].type
        return self.arm_types.get(pid)

    def name_of(self, pid: str) -> str | None:
        info = self.manifest.get(pid)
        if info is not None and info.display:
            return info.display
        obj = self.directory.get(pid)
        return obj.display_name if obj is not None and obj.display_name else None


def _principals_doc(doc: dict[str, Any], ids: list[str], known: _Known, notes: list[str]) -> dict[str, str]:
    names = _Names()
    names.taken.update(known.manifest[pid].key for pid in ids if pid in known.manifest)
    keys: dict[str, str] = {}
    # Manifest principals first, then named ones (sorted by name), then the rest by id: stable.
    ordered = sorted(
        ids,
        key=lambda i: (i not in known.manifest, known.name_of(i) is None, (known.name_of(i) or i).lower(), i),
    )
    for pid in ordered:
        display = known.name_of(pid)
        if pid in known.manifest:
            key = known.manifest[pid].key
        else:
            key = names.unique(_slug(display) if display else f"principal-{pid[:8]}")
        keys[pid] = key
        ptype = known.type_of(pid)
        if ptype is None:
            ptype = "ServicePrincipal"
            notes.append(
                f"principal {pid}: type unknown (not in the manifest or the directory, and no Azure "
                "RBAC assignment); exported as ServicePrincipal, check it"
            )
        entry: dict[str, Any] = {"type": ptype, "id": pid}
        if display:
            entry["name"] = display
        doc["principals"][key] = entry
    return keys


def _teams_doc(entries: Mapping[str, set[Entry]], keys: Mapping[str, str]) -> dict[str, Any]:
    """Principals with identical role sets form one team, named after its first member."""
    groups: dict[frozenset[Entry], list[str]] = {}
    for pid, grants in entries.items():
        groups.setdefault(frozenset(grants), []).append(keys[pid])
    teams: dict[str, Any] = {}
    for held, members in sorted(groups.items(), key=lambda g: sorted(g[1])):
        team: dict[str, Any] = {"members": sorted(members)}
        data = sorted((g for g in held if g[0] == "data"), key=lambda g: (g[1], g[3], g[2]))
        mgmt = sorted((g for g in held if g[0] == "management"), key=lambda g: (g[3].lower(), g[2]))
        if mgmt:
            team["management"] = [{"role": role, "scope": scope} for _, _, role, scope in mgmt]
        if data:
            team["data"] = [{"hsm": hsm, "role": role, "scope": scope} for _, hsm, role, scope in data]
        teams[sorted(members)[0]] = team
    return teams


def _vault_doc(vault: VaultState, keys: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"url": vault.url, "resource_id": vault.resource_id}
    if vault.enable_rbac_authorization:
        out["rbac"] = True
        return out
    out["prune"] = True
    entries: dict[str, list[dict[str, Any]]] = {}
    for p in sorted(vault.access_policies, key=lambda p: (keys[p.object_id], p.application_id or "")):
        entry: dict[str, Any] = {"application": p.application_id} if p.application_id else {}
        for kind in ("keys", "secrets", "certificates", "storage"):
            if getattr(p, kind):
                entry[kind] = list(getattr(p, kind))
        entries.setdefault(keys[p.object_id], []).append(entry)
    # one entry as a mapping; a principal's own entry and its compound ones (through applications) as a list
    out["access_policies"] = {
        key: listed[0] if len(listed) == 1 else listed for key, listed in entries.items()
    }
    return out
