"""Who can perform one data action on an HSM (or on one key of it), or hold one access-policy
permission on a Key Vault, and through what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hsmsync.core.capabilities import short_action
from hsmsync.core.effective import EffectiveGrant, Status, obtainers, vault_writers
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
    through: tuple[str, ...] = ()  # group hops, the member's own group first; empty: assigned directly
    status: str = Status.HOLDS.value  # holds | can once activated | not honoured | can obtain
    # An Azure role assignment's ABAC condition, and what hsmsync made of it for this question
    # ("allows it for secret db", "not evaluated"...; core/vault_rbac_access.py)
    condition: str | None = None
    condition_verdict: str | None = None


@dataclass(frozen=True, slots=True)
class WhoCan:
    """Two lists: who holds the action (with paths through groups, PIM-eligible ones and those
    Azure does not honour marked), and who can obtain it by granting itself a role."""

    holds: list[AccessPath]
    can_obtain: list[AccessPath]


def path_of(
    e: EffectiveGrant, status: str | None = None, condition: str | None = None, verdict: str | None = None
) -> AccessPath:
    """The grant's path to its principal; `status` defaults to the path's own (holds...)."""
    g = e.grant
    return AccessPath(
        via=g.via,
        principal=e.principal,
        principal_id=e.principal_id,
        principal_type=e.principal_type,
        role=g.role_name,
        scope=g.scope,
        hsm=g.target,
        through=tuple(h.describe() for h in e.hops),
        status=status or e.status.value,
        condition=condition,
        condition_verdict=verdict,
    )


def sorted_paths(paths: Iterable[AccessPath]) -> list[AccessPath]:
    rank = {s.value: i for i, s in enumerate(Status)}
    return sorted(
        set(paths),
        key=lambda p: (rank.get(p.status, 9), p.principal.lower(), p.role.lower(), p.scope, p.through, p.via),
    )


OBTAIN = "can obtain (holds roleAssignments/write there: can assign itself any role)"


def _holders(effective: Iterable[EffectiveGrant], hsm: str, action: str, key: str | None) -> list[AccessPath]:
    wanted = short_action(action)
    requested = f"/keys/{key}" if key else None
    return sorted_paths(
        path_of(e)
        for e in effective
        if e.grant.plane is Plane.DATA
        and e.grant.target == hsm
        and wanted in e.grant.short_actions
        and (requested is None or data_scope_covers(e.grant.scope, requested))
    )


def who_can_effective(effective: Iterable[EffectiveGrant], hsm: str, action: str, key: str | None) -> WhoCan:
    """`who_can` over grants followed through groups (`effective.expand`), plus who can obtain
    the action: every holder of roleAssignments/write at a scope covering the key (any scope
    without `key`) that does not already hold it."""
    listed = list(effective)
    holds = _holders(listed, hsm, action, key)
    holding = {p.principal_id for p in holds if p.status == Status.HOLDS.value}
    obtain = sorted_paths(
        path_of(e, OBTAIN if e.status is Status.HOLDS else f"{OBTAIN}, once activated")
        for e in obtainers(listed, hsm, f"/keys/{key}" if key else None)
        if e.principal_id not in holding
    )
    return WhoCan(holds, obtain)


def who_can(grants: Iterable[Grant], hsm: str, action: str, key: str | None) -> list[AccessPath]:
    """Every path to `action` (a resolved data action) on `hsm`, from the grants as assigned
    (no group expansion, no escalation: `who_can_effective` has both).

    With `key`, only assignments whose scope covers `/keys/<key>` count; without it, an
    assignment at any scope does, and the path's scope says how far it reaches.
    """
    direct = (EffectiveGrant(g, g.principal_id, g.who, g.principal_type) for g in grants)
    return _holders(direct, hsm, action, key)


def vault_obtainers(effective: Iterable[EffectiveGrant], resource_id: str) -> list[AccessPath]:
    """Who can write the vault in Azure RBAC (`vaults/write`), so can set itself an access policy
    that grants any permission: the paths, through groups too (Azure RBAC honours every group)."""
    return sorted_paths(
        path_of(e, "can obtain (can write the vault: can set itself an access policy)")
        for e in vault_writers(effective, resource_id)
        if e.status is not Status.ONCE_ACTIVATED
    ) + sorted_paths(
        path_of(e, "can obtain once activated (can write the vault: can set itself an access policy)")
        for e in vault_writers(effective, resource_id)
        if e.status is Status.ONCE_ACTIVATED
    )


def who_can_on_vault(
    policies: Iterable[PolicyGrant], vault: str, kind: str, permission: str
) -> list[AccessPath]:
    """Every access policy of `vault` that grants `kind`/`permission` (policies Azure ignores, on
    a vault that uses Azure RBAC, grant nothing); `policies` as `expand_policies` gives them, so
    a group's members are listed with their path through it."""
    paths = {
        AccessPath(
            via=p.via,
            # a compound identity's entry is its own holder: "alice via application X"
            principal=p.who + (f" via application {p.application_id}" if p.application_id else ""),
            principal_id=p.principal_id,
            principal_type=p.principal_type,
            role=f"access policy ({kind}: {permission}){p.condition}",
            scope="the whole vault",
            hsm=p.vault,
            through=tuple(h.describe() for h in p.through),
            status=p.status.value,
        )
        for p in policies
        if p.vault == vault and p.holds(kind, permission)
    }
    return sorted(paths, key=lambda p: (p.principal.lower(), p.via, p.through))
