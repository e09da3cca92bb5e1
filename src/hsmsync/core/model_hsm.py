"""The manifest's Managed HSM models: the HSM with its settings and audit logging, its custom
data-plane roles, and a team's data-plane assignment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, model_validator

from hsmsync.core.ids import Guid
from hsmsync.core.model_types import (
    ArmResourceId,
    DataScope,
    DataSettingName,
    Expiry,
    Key,
    Name,
    StrictModel,
    Text,
    one_permission_form,
)
from hsmsync.core.scopes import check_arm_resource_id


class NetworkAclsSpec(StrictModel):
    """Network rules of the HSM; fields left out are not managed (their live value is kept)."""

    default_action: Literal["Allow", "Deny"] | None = None
    bypass: Literal["AzureServices", "None"] | None = None
    ip_rules: (
        list[Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")]] | None
    ) = Field(default=None, description="IPv4 addresses or CIDR ranges (the whole list is managed)")


class HsmSettingsSpec(StrictModel):
    """Security settings of the HSM resource; keys left out are not managed."""

    purge_protection: bool | None = Field(default=None, description="Cannot be turned off once on")
    soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] | None = Field(
        default=None, description="7 to 90 days; fixed once the HSM exists"
    )
    public_network_access: Literal["Enabled", "Disabled"] | None = None
    network_acls: NetworkAclsSpec | None = None


class EventHubDestination(StrictModel):
    authorization_rule_id: Annotated[str, StringConstraints(min_length=1)]
    name: str | None = None


class LoggingSpec(StrictModel):
    """Audit logging: a diagnostic setting on the HSM resource (Microsoft.Insights)."""

    name: Name = "hsmsync-audit"
    categories: list[Name] = Field(default_factory=lambda: ["AuditEvent"], min_length=1)
    storage_account: ArmResourceId | None = None
    workspace: ArmResourceId | None = None
    event_hub: EventHubDestination | None = None


class Hsm(StrictModel):
    """A Managed HSM the manifest manages."""

    url: Annotated[str, StringConstraints(pattern=r"^https://[^/\s]+/?$")] = Field(
        description="The HSM URI, e.g. https://contosomhsm.managedhsm.azure.net"
    )
    resource_id: Annotated[
        str,
        StringConstraints(
            pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
            r"Microsoft\.KeyVault/managedHSMs/[^/]+$"
        ),
        AfterValidator(check_arm_resource_id),
    ] = Field(description="ARM resource id of the HSM")
    prune: bool = Field(
        default=False,
        description="Delete data-plane assignments and custom roles the manifest does not declare",
    )
    prune_initial_admins: bool = Field(
        default=False,
        description="Also delete the Administrator assignments Azure made for the HSM's initial "
        "administrators (kept by default, they are the break-glass path)",
    )
    settings: HsmSettingsSpec | None = None
    logging: LoggingSpec | None = None
    data_settings: dict[DataSettingName, StrictBool] | None = Field(
        default=None,
        description="The HSM's own data-plane settings (KeyVaultSettingsClient), by the service's "
        "name, e.g. AllowKeyManagementOperationsThroughARM: false; settings left out are not managed",
    )


class DataPermissionBlock(StrictModel):
    """One permission block of a custom HSM role; Azure evaluates each block on its own."""

    data_actions: list[Name] = Field(min_length=1)
    not_data_actions: list[Name] = Field(
        default_factory=list, description="Excluded from this block's data_actions only"
    )


class CustomRole(StrictModel):
    """A custom data-plane role definition on one HSM."""

    hsm: Key
    name: Text = Field(description="The role's display name (roleName)")
    description: str = ""
    id: Guid | None = Field(
        default=None,
        description="Pin the role definition's GUID (to adopt an existing role); "
        "by default a stable GUID is derived from the HSM and the role's key",
    )
    data_actions: list[Name] | None = Field(
        default=None, min_length=1, description="One permission block: the actions granted"
    )
    not_data_actions: list[Name] = Field(
        default_factory=list, description="One permission block: excluded from data_actions"
    )
    permissions: list[DataPermissionBlock] | None = Field(
        default=None,
        min_length=1,
        description="Several permission blocks, each evaluated on its own (instead of data_actions)",
    )

    @model_validator(mode="after")
    def _one_form(self) -> CustomRole:
        one_permission_form(self, ("data_actions", "not_data_actions"))
        if self.permissions is None and self.data_actions is None:
            raise ValueError("give `data_actions` (one block) or `permissions` (a list of blocks)")
        return self


class DataAssignment(StrictModel):
    """A Managed HSM local-RBAC assignment for every member of a team."""

    hsm: Key
    role: Text = Field(description="Role name, short name, GUID, or the key of a custom role")
    scope: DataScope = "/"
    expires: Expiry | None = None
