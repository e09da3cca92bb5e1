"""What `hsmsync migrate --apply` checks of a vault between its stages: whose access the manifest's
and the live Azure role assignments give (unconditionally, as an access policy does), what of the
access policies' access is still missing, and whether the executor may switch the permission model.
Pure functions over desired and live state; the stages themselves are migration_apply.py."""

from __future__ import annotations

from collections.abc import Mapping

from hsmsync.core.capabilities import permits
from hsmsync.core.catalog import management_role_map
from hsmsync.core.conditions import Request, Verdict, evaluate
from hsmsync.core.desired import DesiredState, DesiredVault
from hsmsync.core.guard import Caller
from hsmsync.core.plan import Plane
from hsmsync.core.state import LiveState, RoleDefinition
from hsmsync.core.vault_migration import (
    VaultMigration,
    as_assigned,
    at_or_above,
    granted_by_assignments,
    migrate_vault,
    permission_list,
)

SWITCH_RIGHTS = ("Microsoft.KeyVault/vaults/write", "Microsoft.Authorization/roleAssignments/write")


def names_of(desired: DesiredState) -> dict[str, str]:
    return {oid.lower(): p.key for oid, p in desired.principals.items()}


def unrestricted(condition: str | None, role: RoleDefinition | None) -> bool:
    """Does an assignment give its role's data actions on the whole vault? A condition that
    restricts any of them (to some names, or in a way hsmsync cannot evaluate) does not: the
    migration never counts it as the equal of an access policy, which has no condition."""
    if condition is None:
        return True
    actions = [a for b in role.permissions for a in b.data_actions] if role else []
    return all(evaluate(condition, Request(a, {})) is Verdict.ALLOWED for a in actions)


def live_granted(live: LiveState, resource_id: str) -> dict[str, frozenset[str]]:
    roles = management_role_map(live.arm.role_definitions)
    triples = (
        (a.principal_id, a.role_definition_id, a.scope)
        for a in live.arm.role_assignments
        if unrestricted(a.condition, roles.get(a.role_definition_id.lower()))
    )
    return granted_by_assignments(triples, roles, resource_id)


def declared_granted(desired: DesiredState, resource_id: str) -> dict[str, frozenset[str]]:
    roles = management_role_map(desired.arm_roles)
    triples = (
        (a.principal.id, a.role_id, a.scope)
        for a in desired.assignments
        if a.plane is Plane.MANAGEMENT and unrestricted(a.condition, roles.get(a.role_id.lower()))
    )
    return granted_by_assignments(triples, roles, resource_id)


def as_declared(desired: DesiredState, live: LiveState, vault: DesiredVault) -> VaultMigration:
    """The live access policies against the manifest's assignments: what the switch keeps, gains, loses."""
    policies = live.vaults[vault.name].access_policies
    proposed = migrate_vault(vault.name, vault.resource_id, policies, names_of(desired), vault.migration)
    return as_assigned(proposed, declared_granted(desired, vault.resource_id))


def missing_access(migration: VaultMigration, granted: Mapping[str, frozenset[str]]) -> list[str]:
    out = []
    for i in migration.identities:
        need = i.had - i.accepted_loss
        # a compound identity's access is never given by the user's own assignments
        have = frozenset() if i.application_id else granted.get(i.object_id.lower(), frozenset())
        lacking = need - have
        if lacking:
            out.append(f"{i.label}: {permission_list(lacking)}")
    return out


def executor_lacks(live: LiveState, caller: Caller, resource_id: str) -> list[str]:
    """The rights to switch the permission model that the executor's live assignments do not give."""
    ids = {caller.object_id.lower(), *(g.lower() for g in (*caller.group_ids, *caller.arm_only_group_ids))}
    roles = management_role_map(live.arm.role_definitions)
    held = [
        roles[a.role_definition_id.lower()]
        for a in live.arm.role_assignments
        if a.principal_id.lower() in ids
        and at_or_above(a.scope, resource_id)
        and a.role_definition_id.lower() in roles
    ]
    return [r for r in SWITCH_RIGHTS if not any(permits(role.permissions, r, data=False) for role in held)]
