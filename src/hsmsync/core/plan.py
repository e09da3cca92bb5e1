"""The plan: an ordered, immutable list of typed changes, each with a stable id and a reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DataSetting,
    DiagnosticSetting,
    HsmSettingsPatch,
    RoleDefinition,
)
from hsmsync.core.target import Target


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Kind(StrEnum):
    ROLE_DEFINITION = "role_definition"
    ROLE_ASSIGNMENT = "role_assignment"
    ACCESS_POLICY = "access_policy"
    SETTING = "setting"
    DIAGNOSTIC_SETTING = "diagnostic_setting"
    DATA_SETTING = "data_setting"


class Plane(StrEnum):
    DATA = "data"
    MANAGEMENT = "management"


# Make before break: nobody loses access mid-apply that they keep after it. Resource settings
# come last: disabling public network access can cut off the runner that applies the rest.
PHASES: dict[tuple[Action, Kind], int] = {
    (Action.CREATE, Kind.ROLE_DEFINITION): 1,
    (Action.UPDATE, Kind.ROLE_DEFINITION): 1,
    (Action.CREATE, Kind.ROLE_ASSIGNMENT): 2,
    (Action.UPDATE, Kind.ROLE_ASSIGNMENT): 2,  # an Azure role assignment's condition
    (Action.CREATE, Kind.ACCESS_POLICY): 2,
    (Action.UPDATE, Kind.ACCESS_POLICY): 2,
    (Action.CREATE, Kind.DIAGNOSTIC_SETTING): 2,
    (Action.UPDATE, Kind.DIAGNOSTIC_SETTING): 2,
    (Action.DELETE, Kind.ROLE_ASSIGNMENT): 3,
    (Action.DELETE, Kind.ACCESS_POLICY): 3,
    (Action.DELETE, Kind.ROLE_DEFINITION): 4,
    (Action.UPDATE, Kind.DATA_SETTING): 5,
    (Action.UPDATE, Kind.SETTING): 5,
}

Payload = ArmRoleDefinition | AccessPolicy | DiagnosticSetting | HsmSettingsPatch | DataSetting


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    old: Any
    new: Any


PERMISSION_MODEL_FIELD = "permission_model"  # a vault's access policies vs Azure RBAC


# What a change is about, one type per kind: only the fields that kind has. The class attributes
# (not fields) are what that kind writes in the plan JSON's shared record (`name`, `role`, ...).


@dataclass(frozen=True, slots=True)
class RoleAssignmentSubject:
    plane: Plane
    scope: str
    name: str  # the assignment's GUID
    role: str  # the role's display name
    role_id: str
    principal: str | None  # the manifest's key for the principal, when declared
    principal_id: str
    principal_type: str | None
    condition: str | None = None  # Azure RBAC only: the ABAC condition (what it is after the change)
    condition_version: str | None = None
    field_changes: tuple[FieldChange, ...] = ()  # an update: the condition's old and new text
    kind = Kind.ROLE_ASSIGNMENT
    definition = payload = None
    added_data_actions: ClassVar[tuple[str, ...]] = ()
    removed_data_actions: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, slots=True)
class RoleDefinitionSubject:
    plane: Plane
    scope: str  # "/" on an HSM; the first assignable scope of a custom Azure role
    role_id: str
    role: str
    definition: RoleDefinition | None = None  # an HSM's custom role (not on a delete)
    payload: ArmRoleDefinition | None = None  # a custom Azure role
    field_changes: tuple[FieldChange, ...] = ()
    added_data_actions: tuple[str, ...] = ()
    removed_data_actions: tuple[str, ...] = ()
    kind = Kind.ROLE_DEFINITION
    principal = principal_id = principal_type = None

    @property
    def name(self) -> str:
        return self.role_id


@dataclass(frozen=True, slots=True)
class AccessPolicySubject:
    scope: str  # the vault's resource id
    principal_id: str  # the entry's object id
    principal: str | None
    principal_type: str | None
    payload: AccessPolicy
    field_changes: tuple[FieldChange, ...] = ()
    kind, plane, role, role_id = Kind.ACCESS_POLICY, Plane.MANAGEMENT, "access policy", ""
    definition = None
    added_data_actions: ClassVar[tuple[str, ...]] = ()
    removed_data_actions: ClassVar[tuple[str, ...]] = ()

    @property
    def name(self) -> str:
        """The entry's identity: the object id, or `object+application` (a compound identity)."""
        return self.payload.entry_key

    @property
    def application_id(self) -> str | None:
        return self.payload.application_id


@dataclass(frozen=True, slots=True)
class SettingsSubject:
    scope: str  # the HSM's resource id
    payload: HsmSettingsPatch
    field_changes: tuple[FieldChange, ...]
    kind, plane, name, role, role_id = Kind.SETTING, Plane.MANAGEMENT, "properties", "HSM settings", ""
    definition = principal = principal_id = principal_type = None
    added_data_actions: ClassVar[tuple[str, ...]] = ()
    removed_data_actions: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, slots=True)
class PermissionModelSubject:
    scope: str  # the vault's resource id
    field_changes: tuple[FieldChange, ...]
    kind, plane, name, role, role_id = (
        Kind.SETTING,
        Plane.MANAGEMENT,
        PERMISSION_MODEL_FIELD,
        "vault permission model",
        "",
    )
    definition = payload = principal = principal_id = principal_type = None
    added_data_actions: ClassVar[tuple[str, ...]] = ()
    removed_data_actions: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, slots=True)
class DiagnosticSettingSubject:
    scope: str  # the HSM's resource id
    payload: DiagnosticSetting
    field_changes: tuple[FieldChange, ...] = ()
    kind, plane, role, role_id = Kind.DIAGNOSTIC_SETTING, Plane.MANAGEMENT, "audit logging", ""
    definition = principal = principal_id = principal_type = None
    added_data_actions: ClassVar[tuple[str, ...]] = ()
    removed_data_actions: ClassVar[tuple[str, ...]] = ()

    @property
    def name(self) -> str:
        return self.payload.name


@dataclass(frozen=True, slots=True)
class DataSettingSubject:
    """One Managed HSM data-plane setting (KeyVaultSettingsClient), set to the payload's value."""

    scope: str  # '/': the settings belong to the whole HSM
    payload: DataSetting
    field_changes: tuple[FieldChange, ...] = ()
    kind, plane, role, role_id = Kind.DATA_SETTING, Plane.DATA, "data-plane setting", ""
    definition = principal = principal_id = principal_type = None
    added_data_actions: ClassVar[tuple[str, ...]] = ()
    removed_data_actions: ClassVar[tuple[str, ...]] = ()

    @property
    def name(self) -> str:
        return self.payload.name


Subject = (
    RoleAssignmentSubject
    | RoleDefinitionSubject
    | AccessPolicySubject
    | SettingsSubject
    | PermissionModelSubject
    | DiagnosticSettingSubject
    | DataSettingSubject
)


@dataclass(frozen=True, slots=True)
class Change:
    """One create/update/delete of one subject (its kind's own record) on one target."""

    id: str
    action: Action
    target: Target
    reason: str
    subject: Subject
    risks: tuple[str, ...] = ()

    @property
    def kind(self) -> Kind:
        return self.subject.kind

    @property
    def plane(self) -> Plane:
        return self.subject.plane

    @property
    def scope(self) -> str:
        return self.subject.scope

    @property
    def name(self) -> str:
        return self.subject.name

    @property
    def role(self) -> str:
        return self.subject.role

    @property
    def role_id(self) -> str:
        return self.subject.role_id

    @property
    def principal(self) -> str | None:
        return self.subject.principal

    @property
    def principal_id(self) -> str | None:
        return self.subject.principal_id

    @property
    def principal_type(self) -> str | None:
        return self.subject.principal_type

    @property
    def definition(self) -> RoleDefinition | None:
        return self.subject.definition

    @property
    def payload(self) -> Payload | None:
        return self.subject.payload

    @property
    def field_changes(self) -> tuple[FieldChange, ...]:
        return self.subject.field_changes

    @property
    def added_data_actions(self) -> tuple[str, ...]:
        return self.subject.added_data_actions

    @property
    def removed_data_actions(self) -> tuple[str, ...]:
        return self.subject.removed_data_actions

    @property
    def phase(self) -> int:
        return PHASES[(self.action, self.kind)]

    def to_dict(self, order: int) -> dict[str, Any]:
        """The change as the plan JSON writes it; `order` is its 1-based position in its plan."""
        out: dict[str, Any] = {
            "id": self.id,
            "order": order,
            "action": self.action.value,
            "kind": self.kind.value,
            **_where_and_who(self),
            "principal_type": self.principal_type,
            "reason": self.reason,
            "risks": list(self.risks),
        }
        if isinstance(self.subject, RoleAssignmentSubject) and self.subject.condition is not None:
            out["condition"] = self.subject.condition
            out["condition_version"] = self.subject.condition_version
        if self.definition is not None:
            out["definition"] = self.definition.model_dump(mode="json")
        if self.payload is not None:
            out["payload"] = self.payload.model_dump(mode="json", exclude_none=True)
        if self.field_changes:
            out["field_changes"] = [{"path": f.path, "old": f.old, "new": f.new} for f in self.field_changes]
        if self.added_data_actions or self.removed_data_actions:
            out["added_data_actions"] = list(self.added_data_actions)
            out["removed_data_actions"] = list(self.removed_data_actions)
        return out


@dataclass(frozen=True, slots=True)
class UnmanagedItem:
    """Something live that the manifest does not declare and that this plan leaves alone."""

    plane: Plane
    target: Target
    scope: str
    name: str
    role: str
    role_id: str
    principal_id: str
    principal: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**_where_and_who(self), "reason": self.reason}


def _where_and_who(item: Change | UnmanagedItem) -> dict[str, Any]:
    """The plan JSON fields a change and an unmanaged item share, in the plan JSON's order."""
    return {
        "plane": item.plane.value,
        "target": item.target.key,
        "scope": item.scope,
        "name": item.name,
        "role": item.role,
        "role_id": item.role_id,
        "principal": item.principal,
        "principal_id": item.principal_id,
    }


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...]
    unmanaged: tuple[UnmanagedItem, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    live_fingerprint: str = ""
    refusals: tuple[str, ...] = ()  # what the service would refuse: the plan must not be applied

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def numbered(self) -> Iterator[tuple[int, Change]]:
        """(order, change): a change's order is its 1-based position in the plan, nothing else."""
        return enumerate(self.changes, start=1)

    def summary(self) -> dict[str, int]:
        counts = Counter(c.action.value for c in self.changes)
        return {
            "create": counts["create"],
            "update": counts["update"],
            "delete": counts["delete"],
            "unmanaged": len(self.unmanaged),
            "total": len(self.changes),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "live_fingerprint": self.live_fingerprint,
            "summary": self.summary(),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "refusals": list(self.refusals),
            "changes": [c.to_dict(order) for order, c in self.numbered()],
            "unmanaged": [u.to_dict() for u in self.unmanaged],
        }
