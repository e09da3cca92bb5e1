"""Desired state: the manifest compiled to GUIDs, ready to diff against live state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from hsmsync.core.plan import Plane
from hsmsync.core.scopes import arm_scope_key
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DataRoleAssignment,
    DiagnosticSetting,
    HsmSettingsPatch,
    RoleDefinition,
)
from hsmsync.core.target import ARM, Target

if TYPE_CHECKING:
    from hsmsync.core.listed_roles import ListedRoleRef


class AssignmentKey(NamedTuple):
    """The natural key assignments are matched by (see `assignment_key`)."""

    plane: str
    target: str  # the HSM's name for the data plane, "arm" for the management plane
    scope: str  # normalised: lower-cased, ARM scopes in their canonical form
    role_id: str
    principal_id: str


def assignment_key(plane: Plane, target: str, scope: str, role_id: str, principal_id: str) -> AssignmentKey:
    """The natural key assignments are matched by (never their names).

    GUIDs arrive lower-cased (the models normalise them); scopes compare case-insensitively.
    """
    norm_scope = arm_scope_key(scope) if plane is Plane.MANAGEMENT else scope.lower()
    return AssignmentKey(plane.value, target, norm_scope, role_id, principal_id)


_DATA = Plane.DATA.value


# The fields of an AssignmentKey as a plain tuple: equal to it and hashing alike, so either finds
# the other in a dict or set; built by the tuple display itself, with no call per key.
PlainKey = tuple[str, str, str, str, str]


def data_assignment_keys(target: str, live: Iterable[DataRoleAssignment]) -> list[PlainKey]:
    """The natural key (`assignment_key(Plane.DATA, target, ...)`) of each live assignment of one
    HSM, as plain tuples (see `PlainKey`): the planner keys every live assignment of the fleet,
    and at 100,000 building an `AssignmentKey` for each was most of its time."""
    return [(_DATA, target, la.scope.lower(), la.role_definition_id, la.principal_id) for la in live]


@dataclass(frozen=True, slots=True)
class PrincipalInfo:
    key: str
    id: str
    type: str
    display: str | None


@dataclass(frozen=True, slots=True)
class DesiredAssignment:
    plane: Plane
    target: str
    scope: str
    role_id: str
    role: str
    principal: PrincipalInfo
    sources: tuple[str, ...]
    loc: tuple[str | int, ...] = ()  # where the manifest first declares it, e.g. ("teams", "x", "data", 0)
    expires: datetime | None = None  # when it stops being desired (UTC); None: never
    condition: str | None = None  # Azure RBAC only: an ABAC condition, and its language version
    condition_version: str | None = None
    key: AssignmentKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the planner looks keys up for every assignment on every run.
        key = assignment_key(self.plane, self.target, self.scope, self.role_id, self.principal.id)
        object.__setattr__(self, "key", key)


@dataclass(frozen=True, slots=True)
class DesiredHsm:
    name: str
    url: str
    resource_id: str
    prune: bool
    prune_initial_admins: bool
    custom_roles: tuple[RoleDefinition, ...]
    settings: HsmSettingsPatch | None = None
    logging: DiagnosticSetting | None = None
    data_settings: Mapping[str, bool] | None = None  # data-plane settings by the service's name


@dataclass(frozen=True, slots=True)
class MigrationChoices:
    """What the manifest says about a vault's move to Azure RBAC (`vaults.<v>.migration`)."""

    accept_loss: Mapping[str, frozenset[str]] = field(default_factory=dict)  # object id -> `keys/get`...
    custom_roles: bool = True


@dataclass(frozen=True, slots=True)
class DesiredVault:
    name: str
    url: str
    resource_id: str
    rbac: bool
    prune: bool
    access_policies: tuple[AccessPolicy, ...]  # sorted by object id
    migration: MigrationChoices = field(default_factory=MigrationChoices)


@dataclass(frozen=True, slots=True)
class DesiredState:
    hsms: Mapping[str, DesiredHsm]
    assignments: tuple[DesiredAssignment, ...]
    principals: Mapping[str, PrincipalInfo]  # by object id
    arm_scopes: tuple[str, ...]
    management_prune: bool
    prune_arm_roles: bool = False
    vaults: Mapping[str, DesiredVault] = field(default_factory=dict)
    arm_roles: tuple[ArmRoleDefinition, ...] = ()
    # Assignments whose `expires` has passed (see core/expiry.py): no longer desired, and removed
    # from live state whatever `prune` says.
    expired: tuple[DesiredAssignment, ...] = ()
    warnings: tuple[str, ...] = ()  # about the manifest: accepted, but said in every plan
    # Data-plane entries whose role only the HSM lists (core/listed_roles.py); resolved when planning.
    listed_roles: tuple[ListedRoleRef, ...] = ()

    def key_names(self, hsm: str) -> tuple[str, ...]:
        """Key names the manifest's data-plane scopes mention on one HSM."""
        return tuple(
            sorted(
                {
                    a.scope.split("/", 2)[2]
                    for a in self.assignments
                    if a.plane is Plane.DATA and a.target == hsm and a.scope.startswith("/keys/")
                }
            )
        )


def management_target(scope: str, vaults: Mapping[str, DesiredVault]) -> Target:
    """Where an Azure role assignment at `scope` lands: `vault:<name>` at or below a declared
    vault (so `--target vault:NAME` plans a vault's RBAC with its permission model), else ARM."""
    key = arm_scope_key(scope)
    for name in sorted(vaults):
        vault_key = arm_scope_key(vaults[name].resource_id)
        if key == vault_key or key.startswith(vault_key + "/"):
            return Target.vault(name)
    return ARM
