"""Live state as data: what a backend reports and what the fake state file holds.

The same models serialise the fake state file (`schemas/state.schema.json`) and the emulator's
store, so a state file can be served and what was applied can be inspected.
Role-definition ids are stored as bare GUIDs; adapters translate to and from the services' id forms.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hsmsync.core.ids import GUID_PATTERN

PrincipalType = Literal["User", "Group", "ServicePrincipal"]
Guid = str


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoleDefinition(_Frozen):
    """A Managed HSM role definition (built-in or custom), in the data plane's terms."""

    name: Guid = Field(pattern=GUID_PATTERN, description="The definition's GUID (its REST name).")
    role_name: str = ""
    description: str = ""
    role_type: Literal["AKVBuiltInRole", "CustomRole"] = "CustomRole"
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    assignable_scopes: tuple[str, ...] = ("/",)

    @field_validator("name")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()

    @property
    def is_builtin(self) -> bool:
        return self.role_type == "AKVBuiltInRole"


class DataRoleAssignment(_Frozen):
    """A Managed HSM local-RBAC role assignment."""

    name: Guid = Field(pattern=GUID_PATTERN)
    scope: str = Field(description="'/', '/keys' or '/keys/<key-name>'")
    role_definition_id: Guid = Field(pattern=GUID_PATTERN)
    principal_id: Guid = Field(pattern=GUID_PATTERN)

    @field_validator("name", "role_definition_id", "principal_id")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


class ArmRoleAssignment(_Frozen):
    """An Azure RBAC (management-plane) role assignment at an ARM scope."""

    name: Guid = Field(pattern=GUID_PATTERN)
    scope: str
    role_definition_id: Guid = Field(pattern=GUID_PATTERN)
    principal_id: Guid = Field(pattern=GUID_PATTERN)
    principal_type: PrincipalType = "User"

    @field_validator("name", "role_definition_id", "principal_id")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


class HsmState(_Frozen):
    """One Managed HSM: identity, its creation-time administrators, its RBAC objects and keys."""

    url: str
    resource_id: str = ""
    initial_admin_object_ids: tuple[Guid, ...] = ()
    role_definitions: tuple[RoleDefinition, ...] = Field(
        default=(),
        description="Custom role definitions. Built-in roles come from the catalog unless "
        "`builtin_role_definitions` lists the HSM's own.",
    )
    builtin_role_definitions: tuple[RoleDefinition, ...] | None = None
    role_assignments: tuple[DataRoleAssignment, ...] = ()
    keys: tuple[str, ...] = ()


class ArmState(_Frozen):
    role_assignments: tuple[ArmRoleAssignment, ...] = ()


class LiveState(_Frozen):
    """Everything hsmsync knows about reality, keyed by the manifest's HSM names."""

    version: Literal[1] = 1
    tenant_id: str = "00000000-0000-0000-0000-000000000000"
    hsms: dict[str, HsmState] = Field(default_factory=dict)
    arm: ArmState = Field(default_factory=ArmState)
