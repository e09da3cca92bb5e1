"""Who can perform one data action on an HSM (or on one key of it), or hold one access-policy
permission on a Key Vault, and through what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hsmsync.core.capabilities import short_action
from hsmsync.core.grants import Grant
from hsmsync.core.plan import Plane
from hsmsync.core.scopes import data_scope_covers
from hsmsync.core.vault_access import PolicyGrant


@dataclass(frozen=True, slots=True)
class AccessPath:
    """team (or live assignment) -> member principal -> role -> scope."""

    via: str
    principal: str  # manifest key, or object id when the manifest does not name it
    principal_id: str
    principal_type: str
    role: str
    scope: str
    hsm: str


def who_can(grants: Iterable[Grant], hsm: str, action: str, key: str | None) -> list[AccessPath]:
    """Every path to `action` (a resolved data action) on `hsm`.

    With `key`, only assignments whose scope covers `/keys/<key>` count; without it, an
    assignment at any scope does, and the path's scope says how far it reaches.
    """
    wanted = short_action(action)
    requested = f"/keys/{key}" if key else None
    paths = {
        AccessPath(
            via=g.via,
            principal=g.who,
            principal_id=g.principal_id,
            principal_type=g.principal_type,
            role=g.role_name,
            scope=g.scope,
            hsm=g.target,
        )
        for g in grants
        # Only the HSM's local RBAC grants data actions; ARM roles stop at the resource.
        if g.plane is Plane.DATA
        and g.target == hsm
        and wanted in g.short_actions
        and (requested is None or data_scope_covers(g.scope, requested))
    }
    return sorted(paths, key=lambda p: (p.principal.lower(), p.role.lower(), p.scope, p.via))


def who_can_on_vault(
    policies: Iterable[PolicyGrant], vault: str, kind: str, permission: str
) -> list[AccessPath]:
    """Every access policy of `vault` that grants `kind`/`permission` (policies Azure ignores, on
    a vault that uses Azure RBAC, grant nothing)."""
    paths = {
        AccessPath(
            via=p.via,
            principal=p.who,
            principal_id=p.principal_id,
            principal_type=p.principal_type,
            role=f"access policy ({kind}: {permission})",
            scope="the whole vault",
            hsm=p.vault,
        )
        for p in policies
        if p.vault == vault and p.holds(kind, permission)
    }
    return sorted(paths, key=lambda p: (p.principal.lower(), p.via))
