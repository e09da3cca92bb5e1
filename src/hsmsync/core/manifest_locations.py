"""Where in the manifest each desired assignment was declared, so findings can point at a line."""

from __future__ import annotations

from hsmsync.core.compile import custom_role_guid
from hsmsync.core.desired import AssignmentKey, DesiredState
from hsmsync.core.lint_findings import Loc
from hsmsync.core.model import Manifest


def assignment_locations(desired: DesiredState) -> dict[AssignmentKey, Loc]:
    """Assignment key -> ("teams", team, "data"|"management", index); the first team wins."""
    return {a.key: a.loc for a in desired.assignments}


def custom_role_keys(manifest: Manifest) -> dict[tuple[str, str], str]:
    """(hsm, role GUID) -> the manifest's key for that custom role."""
    return {(r.hsm, custom_role_guid(r.hsm, key, r.id)): key for key, r in manifest.roles.items()}
