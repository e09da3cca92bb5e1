"""Who holds a permission on a Key Vault that uses Azure RBAC, role-assignment conditions included.

A vault on Azure RBAC answers from the Azure role assignments at it, above it, or (for one key,
secret or certificate) at that object: a permission (`secrets/get`) is held when the role allows
every data action Microsoft maps it to (data/vault_rbac_migration.json). A conditional
assignment is never counted as plain access: its condition (core/conditions.py) is evaluated for
the object's name when one is asked about; otherwise it "holds, under a condition" (a condition
about names: only for the names it allows) or is "conditional (not evaluated)". Whoever may
write role assignments at the vault can obtain the permission by assigning itself a role, within
what its own condition lets it assign. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hsmsync.core.capabilities import permits
from hsmsync.core.conditions import (
    NOT_EVALUATED,
    UNDER_CONDITION,
    Request,
    Verdict,
    about_names,
    evaluate,
    name_request,
    verdict_for_each_role,
)
from hsmsync.core.desired import DesiredVault
from hsmsync.core.effective import EffectiveGrant, Status, arm_covers
from hsmsync.core.plan import Plane
from hsmsync.core.vault_access import PolicyGrant
from hsmsync.core.vault_migration import key_vault_roles, permission_actions
from hsmsync.core.whocan import (
    AccessPath,
    WhoCan,
    path_of,
    sorted_paths,
    vault_obtainers,
    who_can_on_vault,
)

WRITE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments/write"
OBTAIN = "can obtain (may write role assignments at the vault: can assign itself a role that gives it)"


def _verdict(condition: str, actions: Sequence[str], kind: str, name: str | None) -> Verdict:
    """One verdict for every data action the permission needs: denied if any is denied."""
    verdicts = {evaluate(condition, name_request(a, kind, name) if name else Request(a, {})) for a in actions}
    for worst in (Verdict.DENIED, Verdict.NOT_EVALUATED):
        if worst in verdicts:
            return worst
    return Verdict.ALLOWED


def _conditional(e: EffectiveGrant, actions: Sequence[str], kind: str, name: str | None) -> AccessPath | None:
    """A conditional grant's path, or None when its condition denies the permission."""
    condition = e.grant.condition
    assert condition is not None
    verdict = _verdict(condition, actions, kind, name)
    if verdict is Verdict.DENIED:
        return None
    if verdict is Verdict.ALLOWED:
        note = f"allows it for {kind[:-1]} {name}" if name else "does not restrict this permission"
        return path_of(e, e.status.value, condition, note)
    if name is None and about_names(condition) and e.status is Status.HOLDS:
        return path_of(e, UNDER_CONDITION, condition, f"only for the {kind} whose names it allows")
    return path_of(e, NOT_EVALUATED, condition, "not evaluated")


def _reaches(scope: str, resource_id: str, kind: str, name: str | None) -> bool:
    if name is not None:
        return arm_covers(scope, f"{resource_id}/{kind}/{name}")
    # Without a name an assignment below the vault counts too: its scope says how far it reaches.
    return arm_covers(scope, resource_id) or arm_covers(resource_id, scope)


def rbac_vault_holders(
    effective: Iterable[EffectiveGrant], resource_id: str, kind: str, permission: str, name: str | None
) -> list[AccessPath]:
    """Every path to `kind`/`permission` on the vault `resource_id` (or its object `name`)."""
    actions = permission_actions()[f"{kind}/{permission}"]
    out = []
    for e in effective:
        g = e.grant
        if g.plane is not Plane.MANAGEMENT or not _reaches(g.scope, resource_id, kind, name):
            continue
        if not all(permits(g.permissions, a, data=True) for a in actions):
            continue
        path = path_of(e, e.status.value) if g.condition is None else _conditional(e, actions, kind, name)
        if path is not None:
            out.append(path)
    return sorted_paths(out)


def _obtain(e: EffectiveGrant, actions: Sequence[str]) -> AccessPath | None:
    """A writer of role assignments at the vault, if it may assign itself a role that gives it."""
    later = "" if e.status is Status.HOLDS else ", once activated"
    condition = e.grant.condition
    if condition is None:
        return path_of(e, OBTAIN + later)
    giving = sorted(
        r.name
        for r in key_vault_roles().values()
        if all(permits(r.permissions, a, data=True) for a in actions)
    )
    verdicts = {verdict_for_each_role(condition, WRITE_ASSIGNMENTS, [r]) for r in giving}
    if Verdict.ALLOWED in verdicts:
        return path_of(e, OBTAIN + later, condition, "its condition lets it assign such a role")
    if Verdict.NOT_EVALUATED in verdicts:
        return path_of(e, OBTAIN + later + ", " + NOT_EVALUATED, condition, "not evaluated")
    return None


def rbac_vault_obtainers(
    effective: Iterable[EffectiveGrant], resource_id: str, kind: str, permission: str, holding: set[str]
) -> list[AccessPath]:
    """Who may write role assignments at the vault (so assign itself a Key Vault role giving the
    permission), its condition permitting, and does not already hold it (`holding`: object ids)."""
    actions = permission_actions()[f"{kind}/{permission}"]
    out = []
    for e in effective:
        g = e.grant
        if (
            g.plane is not Plane.MANAGEMENT
            or e.principal_id in holding
            or not arm_covers(g.scope, resource_id)
        ):
            continue
        if (
            permits(g.permissions, WRITE_ASSIGNMENTS, data=False)
            and (path := _obtain(e, actions)) is not None
        ):
            out.append(path)
    return sorted_paths(out)


def who_can_on_rbac_vault(
    effective: Sequence[EffectiveGrant], resource_id: str, kind: str, permission: str, name: str | None
) -> WhoCan:
    holds = rbac_vault_holders(effective, resource_id, kind, permission, name)
    holding = {p.principal_id for p in holds if p.status == Status.HOLDS.value}
    return WhoCan(holds, rbac_vault_obtainers(effective, resource_id, kind, permission, holding))


@dataclass(frozen=True, slots=True)
class VaultQuestion:
    """Who holds `kind`/`permission` on `vault` (on its object `name`, when given)?"""

    vault: DesiredVault
    kind: str
    permission: str
    name: str | None = None


def vault_answer(
    q: VaultQuestion, rbac: bool, policies: Iterable[PolicyGrant], effective: Sequence[EffectiveGrant]
) -> WhoCan:
    """`whocan --vault`'s answer by the vault's permission model: its Azure role assignments
    (conditions evaluated), or its access policies and who can write them."""
    if rbac:
        return who_can_on_rbac_vault(effective, q.vault.resource_id, q.kind, q.permission, q.name)
    held = who_can_on_vault(policies, q.vault.name, q.kind, q.permission)
    return WhoCan(held, vault_obtainers(effective, q.vault.resource_id))
