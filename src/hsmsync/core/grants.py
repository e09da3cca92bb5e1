"""Grants: role assignments with the data actions their role effectively allows.

A grant is the unit every access question is answered from, whether it came from the manifest
(what would be) or from live state (what is). Management-plane grants never carry data actions:
Azure RBAC on the HSM resource does not reach the keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from hsmsync.core.capabilities import permits, short_actions
from hsmsync.core.catalog import builtin_data_roles, management_role_map
from hsmsync.core.conditions import effective_condition
from hsmsync.core.data_actions import data_action_vocabulary
from hsmsync.core.desired import AssignmentKey, DesiredState, PrincipalInfo, assignment_key
from hsmsync.core.plan import Plane
from hsmsync.core.scopes import normalize_data_scope
from hsmsync.core.state import HsmState, LiveState, Permission, RoleDefinition

# How a grant read from live state is held; a state after a plan lists the assignments the plan
# creates too, which the matrix calls planned (core/matrix.py).
LIVE_ASSIGNMENT = "live assignment"
PLANNED_ASSIGNMENT = "planned assignment"


@dataclass(frozen=True, slots=True)
class Grant:
    plane: Plane
    target: str  # HSM name, or "arm"
    scope: str
    role_id: str
    role_name: str
    principal_id: str
    principal: str | None  # the manifest's key for the principal, when it declares it
    principal_type: str  # User | Group | ServicePrincipal | Unknown
    via: str  # "team security", or "live assignment <name>"
    data_actions: frozenset[str]  # effective, in the service's spelling; empty on the management plane
    actions: tuple[str, ...] = ()  # management-plane actions (patterns), for explanations only
    permissions: tuple[Permission, ...] = ()  # the management role's blocks, what is evaluated
    condition: str | None = None  # an Azure role assignment's ABAC condition (core/conditions.py)

    @property
    def key(self) -> AssignmentKey:
        return assignment_key(self.plane, self.target, self.scope, self.role_id, self.principal_id)

    @property
    def who(self) -> str:
        return self.principal or self.principal_id

    @property
    def short_actions(self) -> frozenset[str]:
        """Effective data actions as `keys/sign/action`, lower-cased, for set arithmetic."""
        return short_actions(self.data_actions)


def effective_data_actions(role: RoleDefinition) -> frozenset[str]:
    """What any block allows (its dataActions minus its own notDataActions), wildcards expanded
    against the known vocabulary."""
    return _effective(role.permissions)


@cache
def _effective(permissions: tuple[Permission, ...]) -> frozenset[str]:
    # Cached by the blocks: a fleet has thousands of assignments but a few dozen roles.
    known = set(data_action_vocabulary().values())
    known.update(a for b in permissions for a in b.data_actions if "*" not in a)
    return frozenset(a for a in known if permits(permissions, a, data=True))


def _management_actions(role: RoleDefinition) -> tuple[str, ...]:
    listed = (a for b in role.permissions for a in b.actions if a not in b.not_actions)
    return tuple(dict.fromkeys(listed))


def grants_from_desired(desired: DesiredState) -> tuple[Grant, ...]:
    roles = {r.name: r for r in builtin_data_roles()}
    for hsm in desired.hsms.values():
        roles.update({r.name: r for r in hsm.custom_roles})
    mgmt = management_role_map(desired.arm_roles)
    out: list[Grant] = []
    for a in desired.assignments:
        data = a.plane is Plane.DATA
        role = roles.get(a.role_id) if data else mgmt.get(a.role_id)
        out.append(
            Grant(
                plane=a.plane,
                target=a.target,
                scope=a.scope,
                role_id=a.role_id,
                role_name=a.role,
                principal_id=a.principal.id,
                principal=a.principal.key,
                principal_type=a.principal.type,
                via=", ".join(a.sources),
                data_actions=effective_data_actions(role) if data and role else frozenset(),
                actions=_management_actions(role) if role and not data else (),
                permissions=role.permissions if role and not data else (),
                condition=effective_condition(a.condition, role.permissions if role and not data else ()),
            )
        )
    return tuple(out)


def hsm_roles(hsm: HsmState) -> dict[str, RoleDefinition]:
    builtins: Iterable[RoleDefinition] = hsm.builtin_role_definitions or builtin_data_roles()
    return {r.name: r for r in (*builtins, *hsm.role_definitions)}


def _data_scope(scope: str) -> str:
    try:
        return normalize_data_scope(scope)
    except ValueError:  # live state can hold what the manifest would refuse; show it as it is
        return scope


def grants_from_live(live: LiveState, principals: Mapping[str, PrincipalInfo]) -> tuple[Grant, ...]:
    """`principals` by object id (DesiredState.principals) name the principals the manifest knows."""
    out: list[Grant] = []
    for name in sorted(live.hsms):
        roles = hsm_roles(live.hsms[name])
        for a in live.hsms[name].role_assignments:
            role = roles.get(a.role_definition_id)
            info = principals.get(a.principal_id)
            out.append(
                Grant(
                    plane=Plane.DATA,
                    target=name,
                    scope=_data_scope(a.scope),
                    role_id=a.role_definition_id,
                    role_name=role.role_name if role else f"(defunct role {a.role_definition_id})",
                    principal_id=a.principal_id,
                    principal=info.key if info else None,
                    principal_type=info.type if info else "Unknown",
                    via=f"{LIVE_ASSIGNMENT} {a.name}",
                    # a role that no longer exists grants nothing, whatever the assignment says
                    data_actions=effective_data_actions(role) if role else frozenset(),
                )
            )
    mgmt = management_role_map(live.arm.role_definitions, live.arm.builtin_role_definitions)
    for arm in live.arm.role_assignments:
        mrole = mgmt.get(arm.role_definition_id)
        info = principals.get(arm.principal_id)
        out.append(
            Grant(
                plane=Plane.MANAGEMENT,
                target="arm",
                scope=arm.scope,
                role_id=arm.role_definition_id,
                role_name=mrole.role_name if mrole else arm.role_definition_id,
                principal_id=arm.principal_id,
                principal=info.key if info else None,
                principal_type=arm.principal_type,
                via=f"{LIVE_ASSIGNMENT} {arm.name}",
                data_actions=frozenset(),
                actions=_management_actions(mrole) if mrole else (),
                permissions=mrole.permissions if mrole else (),
                condition=effective_condition(arm.condition, mrole.permissions if mrole else ()),
            )
        )
    return tuple(out)
