"""Where in the manifest each desired assignment was declared, so findings can point at a line."""

from __future__ import annotations

from hsmsync.core.catalog import RoleIndex, builtin_data_roles, management_roles
from hsmsync.core.desired import AssignmentKey, DesiredState, assignment_key
from hsmsync.core.lint_findings import Loc
from hsmsync.core.model import Manifest
from hsmsync.core.plan import Plane
from hsmsync.core.resolve import custom_role_guid


def _data_role_id(manifest: Manifest, desired: DesiredState, hsm: str, reference: str) -> str | None:
    custom = manifest.roles.get(reference)
    if custom is not None and custom.hsm == hsm:
        return custom_role_guid(hsm, reference, custom.id)
    customs = desired.hsms[hsm].custom_roles if hsm in desired.hsms else ()
    role = RoleIndex([*builtin_data_roles(), *customs]).resolve(reference)
    return role.name if role else None


def assignment_locations(manifest: Manifest, desired: DesiredState) -> dict[AssignmentKey, Loc]:
    """Assignment key -> ("teams", team, "data"|"management", index); the first team wins."""
    ids = {key: p.id for key, p in manifest.principals.items()}
    mgmt = RoleIndex(management_roles())
    out: dict[AssignmentKey, Loc] = {}
    for team_key, team in manifest.teams.items():
        members = [ids[m] for m in team.members if m in ids]
        for i, d in enumerate(team.data):
            role_id = _data_role_id(manifest, desired, d.hsm, d.role)
            for pid in members if role_id else []:
                key = assignment_key(Plane.DATA, d.hsm, d.scope, role_id or "", pid)
                out.setdefault(key, ("teams", team_key, "data", i))
        for i, a in enumerate(team.management):
            mrole = mgmt.resolve(a.role)
            for pid in members if mrole else []:
                key = assignment_key(Plane.MANAGEMENT, "arm", a.scope, mrole.name if mrole else "", pid)
                out.setdefault(key, ("teams", team_key, "management", i))
    return out


def custom_role_keys(manifest: Manifest) -> dict[tuple[str, str], str]:
    """(hsm, role GUID) -> the manifest's key for that custom role."""
    return {(r.hsm, custom_role_guid(r.hsm, key, r.id)): key for key, r in manifest.roles.items()}
