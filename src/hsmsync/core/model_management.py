"""The manifest's management-plane (Azure RBAC) models: a team's assignment at an Azure scope with
its ABAC condition, custom Azure roles, and the `management` options."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, model_validator

from hsmsync.core.ids import Guid
from hsmsync.core.model_types import (
    ArmScope,
    Expiry,
    ManagementScope,
    Name,
    StrictModel,
    Text,
    one_permission_form,
)

CONDITION_VERSION = "2.0"


class ArmPermissionBlock(StrictModel):
    """One permission block of a custom Azure role; Azure evaluates each block on its own."""

    actions: list[Name] = Field(default_factory=list)
    not_actions: list[Name] = Field(
        default_factory=list, description="Excluded from this block's actions only"
    )
    data_actions: list[Name] = Field(default_factory=list)
    not_data_actions: list[Name] = Field(
        default_factory=list, description="Excluded from this block's data_actions only"
    )


def _version_text(value: object) -> object:
    # YAML reads an unquoted 2.0 as a float; it can only mean the version "2.0".
    return CONDITION_VERSION if isinstance(value, float) and value == 2.0 else value


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("a condition may not be blank; leave `condition` out for none")
    return text


class ManagementAssignment(StrictModel):
    """An Azure RBAC (ARM) assignment for every member of a team."""

    role: Text = Field(description="Azure role name, GUID, or the key of a custom Azure role")
    scope: ManagementScope
    expires: Expiry | None = None
    condition: Annotated[str, StringConstraints(min_length=1), AfterValidator(_not_blank)] | None = Field(
        default=None,
        description="An ABAC condition (Azure role-assignment condition language), sent and compared "
        "exactly as written",
    )
    condition_version: Annotated[Literal["2.0"] | None, BeforeValidator(_version_text)] = Field(
        default=None, description=f"The condition language's version; {CONDITION_VERSION} (the default)"
    )

    @model_validator(mode="after")
    def _version_needs_condition(self) -> ManagementAssignment:
        if self.condition_version is not None and self.condition is None:
            raise ValueError("condition_version is given without a condition")
        return self


class ArmRole(StrictModel):
    """A custom Azure role (management plane)."""

    name: Text
    description: str = ""
    id: Guid | None = Field(default=None, description="Pin the role definition's GUID")
    actions: list[Name] = Field(default_factory=list)
    not_actions: list[Name] = Field(default_factory=list)
    data_actions: list[Name] = Field(default_factory=list)
    not_data_actions: list[Name] = Field(default_factory=list)
    permissions: list[ArmPermissionBlock] | None = Field(
        default=None,
        min_length=1,
        description="The role's permission block as a list (instead of the flat lists); Azure RBAC "
        "accepts one block in a custom role",
    )
    assignable_scopes: list[ArmScope] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> ArmRole:
        one_permission_form(self, ("actions", "not_actions", "data_actions", "not_data_actions"))
        if self.permissions is not None and len(self.permissions) > 1:
            # The Azure RBAC service takes exactly one permissions entry in a custom role.
            raise ValueError("a custom Azure role holds exactly one permission block (an Azure RBAC rule)")
        return self


class ManagementOptions(StrictModel):
    prune_roles: bool = Field(
        default=False,
        description="Delete custom Azure roles found at the managed scopes that `arm_roles` does not "
        "declare. Off by default: a subscription holds other teams' custom roles too",
    )
    prune: bool = Field(
        default=False,
        description="Delete ARM assignments of declared principals, at declared scopes, "
        "that the manifest does not declare",
    )
