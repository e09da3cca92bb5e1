"""What one principal can do, on both planes, and which of its grants it does not need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from hsmsync.core.capabilities import ASSIGN_ROLES
from hsmsync.core.catalog import DATA_ACTION_PREFIX
from hsmsync.core.conditions import conditional_status
from hsmsync.core.effective import EffectiveGrant, Status, vault_writers
from hsmsync.core.grants import Grant
from hsmsync.core.plan import Plane
from hsmsync.core.scopes import arm_scope_key, data_scope_covers
from hsmsync.core.vault_access import PolicyGrant, policy_notes


@dataclass(frozen=True, slots=True)
class ExplainedGrant:
    grant: Grant
    summary: str  # the actions, grouped: "keys: read, sign; roleAssignments: read"
    unneeded: tuple[str, ...]  # why the principal's team does not need this grant; empty if it does
    through: tuple[str, ...] = ()  # the group hops it reaches the principal through (member first)
    # holds | can once activated | not honoured | holds, under a condition | conditional (not evaluated)
    status: str = Status.HOLDS.value


@dataclass(frozen=True, slots=True)
class ExplainedPolicy:
    policy: PolicyGrant
    notes: tuple[str, ...]  # ignored by Azure (RBAC vault), or not what the manifest declares


@dataclass(frozen=True, slots=True)
class Explanation:
    principal_id: str
    principal: str
    principal_type: str
    grants: tuple[ExplainedGrant, ...]
    policies: tuple[ExplainedPolicy, ...] = ()  # Key Vault access policies
    # Where it can assign itself any role (it holds roleAssignments/write there), with the grant
    obtainable: tuple[str, ...] = ()

    @property
    def has_access(self) -> bool:
        return bool(self.grants or self.policies)


def summarize_actions(grant: Grant) -> str:
    if grant.plane is Plane.MANAGEMENT:
        listed = ", ".join(grant.actions) if grant.actions else "(no control-plane actions known)"
        data = sorted({a for b in grant.permissions for a in b.data_actions if a not in b.not_data_actions})
        return listed + (f"; data actions: {', '.join(data)}" if data else "")
    if not grant.data_actions:
        return "nothing (the role grants no data actions)"
    groups: dict[str, list[str]] = {}
    for action in sorted(grant.data_actions, key=str.lower):
        parts = action[len(DATA_ACTION_PREFIX) :].split("/")
        if parts[-1] == "action" and len(parts) > 1:
            parts = parts[:-1]
        group, verb = ("/".join(parts[:-1]), parts[-1]) if len(parts) > 1 else (parts[0], "")
        groups.setdefault(group, []).append(verb)
    return "; ".join(
        f"{group}: {', '.join(verbs)}" if any(verbs) else group for group, verbs in sorted(groups.items())
    )


def _covers(plane: Plane, broad: str, narrow: str) -> bool:
    if plane is Plane.DATA:
        return data_scope_covers(broad, narrow)
    b, n = arm_scope_key(broad), arm_scope_key(narrow)
    return n == b or n.startswith(b + "/")


def _redundant_because(g: Grant, held: Sequence[Grant]) -> str | None:
    """A broader-or-equal grant whose actions include all of g's makes g redundant.

    On the management plane actions are patterns, so only the same role counts as a superset.
    Of two equivalent grants, the later in sort order is the one called redundant.
    """
    for h in held:
        if h.key == g.key or h.plane is not g.plane or h.target != g.target:
            continue
        if not _covers(g.plane, h.scope, g.scope):
            continue
        if g.plane is Plane.DATA:
            superset = g.short_actions <= h.short_actions
            equivalent = g.short_actions == h.short_actions
        else:
            superset = equivalent = h.role_id == g.role_id
        broader = not _covers(g.plane, g.scope, h.scope)
        if superset and (broader or not equivalent or h.key < g.key):
            return f"redundant: {h.role_name} at {h.scope} ({h.via}) already allows all of it"
    return None


def explain(
    grants: Sequence[Grant],
    principal_id: str,
    declared: Sequence[Grant] | None,
    *,
    policies: Sequence[PolicyGrant] = (),
    declared_policies: Sequence[PolicyGrant] | None = None,
) -> Explanation:
    """`declared` (the manifest's grants and access policies) marks live access the manifest
    does not declare; `policies` are the Key Vault access policies to explain alongside."""
    wanted = principal_id.lower()
    held = sorted(
        (g for g in grants if g.principal_id.lower() == wanted),
        key=lambda g: (g.plane != Plane.DATA, g.target, g.scope.lower(), g.role_name.lower()),
    )
    declared_keys = {d.key for d in declared} if declared is not None else None
    explained: list[ExplainedGrant] = []
    for g in held:
        reasons: list[str] = []
        if declared_keys is not None and g.key not in declared_keys:
            reasons.append("not declared by the manifest")
        redundant = _redundant_because(g, held)
        if redundant:
            reasons.append(redundant)
        status = conditional_status(g.condition)
        explained.append(ExplainedGrant(g, summarize_actions(g), tuple(reasons), status=status))
    mine = [p for p in policies if p.principal_id.lower() == wanted]
    known = tuple(declared_policies) if declared_policies is not None else None
    holders: list[Grant | PolicyGrant] = [*held, *mine]
    named = next((x for x in holders if x.principal), holders[0] if holders else None)
    return Explanation(
        principal_id=wanted,
        principal=named.who if named else wanted,
        principal_type=named.principal_type if named else "Unknown",
        grants=tuple(explained),
        policies=tuple(ExplainedPolicy(p, policy_notes(p, known)) for p in mine),
    )


def with_group_grants(e: Explanation, effective: Sequence[EffectiveGrant]) -> Explanation:
    """`e` plus the grants that reach the principal through groups (`effective.expand`), each
    with its path and status, and where it can obtain any role (roleAssignments/write)."""
    extra = [
        ExplainedGrant(
            x.grant,
            summarize_actions(x.grant),
            (),
            tuple(h.describe() for h in x.hops),
            conditional_status(x.grant.condition, x.status.value),
        )
        for x in sorted(
            (x for x in effective if x.principal_id.lower() == e.principal_id and x.hops),
            key=lambda x: x.path(),
        )
    ]
    grants = (*e.grants, *extra)
    obtainable = tuple(
        f"every data action at {x.grant.scope} on {x.grant.target}, through {x.grant.role_name}"
        + (f" ({' -> '.join(x.through)})" if x.through else "")
        + (", once activated" if x.status != Status.HOLDS.value else "")
        for x in grants
        if x.grant.plane is Plane.DATA
        and x.grant.short_actions & ASSIGN_ROLES
        and x.status != Status.NOT_HONOURED.value
    )
    member = next((x for x in effective if x.principal_id.lower() == e.principal_id and x.hops), None)
    named = e.principal_type == "Unknown" and member is not None
    return replace(
        e,
        grants=grants,
        obtainable=obtainable,
        principal=member.principal if named and member else e.principal,
        principal_type=member.principal_type if named and member else e.principal_type,
    )


def with_vault_escalation(
    e: Explanation, effective: Sequence[EffectiveGrant], vaults: Mapping[str, str]
) -> Explanation:
    """`e` plus the access-policy vaults (name -> resource id) the principal can write in Azure
    RBAC: it can set itself any access policy there (the same test as lint's HSM005)."""
    mine = [x for x in effective if x.principal_id.lower() == e.principal_id]
    extra = tuple(
        f"any access-policy permission on vault {name}, through {x.grant.role_name} at {x.grant.scope}"
        + (f" ({' -> '.join(h.describe() for h in x.hops)})" if x.hops else "")
        + (", once activated" if x.status is Status.ONCE_ACTIVATED else "")
        + ": it can write the vault, so it can set itself an access policy"
        for name, rid in sorted(vaults.items())
        for x in vault_writers(mine, rid)
    )
    return replace(e, obtainable=(*e.obtainable, *extra)) if extra else e
