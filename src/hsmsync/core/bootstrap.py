"""Bootstrapping a fresh HSM: discovery is denied the applier, and the manifest grants it the right.

A new Managed HSM's creator holds Managed HSM Administrator only, which cannot list keys; a
pruning HSM's first plan (full discovery) then fails. `apply --bootstrap` applies first exactly
the manifest's grant (and its custom role, if it is one) that gives the applier the denied right,
then discovers and plans the rest. When the manifest grants no such right, the error names which
role to declare for which identity at which scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from hsmsync.core.capabilities import HSM_WIDE_KEY_USE, short_action, short_actions
from hsmsync.core.catalog import builtin_data_roles
from hsmsync.core.desired import DesiredState
from hsmsync.core.errors import Denied
from hsmsync.core.grants import effective_data_actions, grants_from_desired
from hsmsync.core.plan import Action, Kind, Plan, Plane
from hsmsync.core.scopes import data_scope_covers
from hsmsync.core.state import RoleDefinition
from hsmsync.core.target import Target


@dataclass(frozen=True, slots=True)
class BootstrapGrant:
    hsm: str
    scope: str
    role_id: str
    role: str
    principal: str  # the manifest's key
    principal_id: str


def granting_assignment(
    desired: DesiredState, caller_ids: frozenset[str], denied: Denied
) -> BootstrapGrant | None:
    """The manifest's data-plane grant that gives the caller (or one of its groups) `denied.action`
    where it was denied (the broadest such grant first)."""
    wanted = short_action(denied.action)
    found = [
        g
        for g in grants_from_desired(desired)
        if g.plane is Plane.DATA
        and g.target == denied.target.name
        and g.principal_id in caller_ids
        and data_scope_covers(g.scope, denied.scope)
        and wanted in g.short_actions
    ]
    if not found:
        return None
    g = min(found, key=lambda g: (len(g.scope), g.scope, g.role_id))
    return BootstrapGrant(
        g.target, g.scope, g.role_id, g.role_name, g.principal or g.principal_id, g.principal_id
    )


def bootstrap_plan(plan: Plan, grant: BootstrapGrant) -> Plan:
    """The changes of `plan` that create the grant (and its custom role, if the plan creates it)."""
    changes = tuple(
        c
        for c in plan.changes
        if c.plane is Plane.DATA
        and c.target == Target.hsm(grant.hsm)
        and c.action is not Action.DELETE
        and (
            (c.kind is Kind.ROLE_DEFINITION and c.name == grant.role_id)
            or (
                c.kind is Kind.ROLE_ASSIGNMENT
                and c.principal_id == grant.principal_id
                and c.role_id == grant.role_id
                and c.scope.lower() == grant.scope.lower()
            )
        )
    )
    return Plan(changes=changes, live_fingerprint=plan.live_fingerprint)


def least_builtin_role(action: str) -> str | None:
    """The built-in data role with the fewest rights (none to use keys) that includes `action`."""
    wanted = short_action(action)
    roles = [r for r in builtin_data_roles() if wanted in short_actions(effective_data_actions(r))]
    if not roles:
        return None

    def rank(r: RoleDefinition) -> tuple[bool, int, str]:
        # a role that can use keys is never the suggestion for a read the applier needs
        actions = short_actions(effective_data_actions(r))
        return (bool(actions & HSM_WIDE_KEY_USE), len(actions), r.role_name)

    return min(roles, key=rank).role_name


def way_out(desired: DesiredState, caller_ids: frozenset[str], caller_id: str | None, denied: Denied) -> str:
    """What to do about a denied discovery call on an HSM the manifest manages."""
    grant = granting_assignment(desired, caller_ids, denied)
    if grant is not None:
        return (
            f"The manifest grants {grant.principal} {grant.role} at {grant.scope} on {grant.hsm}, which "
            "gives the applying identity this right: run `hsmsync apply --bootstrap` to apply that grant "
            "first, then discover and plan the rest."
        )
    role = least_builtin_role(denied.action) or f"a role with {short_action(denied.action)}"
    who = f"the applying identity ({caller_id})" if caller_id else "the applying identity"
    return (
        f"The manifest grants {who} no role with {short_action(denied.action)} at {denied.scope} on "
        f"{denied.target}: declare {role} for it at {denied.scope} on {denied.target} (e.g. "
        f"`{{hsm: {denied.target}, role: {role}, scope: {denied.scope}}}` in a team it is a member of), "
        "then run `hsmsync apply --bootstrap`."
    )
