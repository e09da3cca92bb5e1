"""Live state as data: what a backend reports and what the fake state file holds.

The same models serialise the fake state file (`schemas/state.schema.json`) and the emulator's
store, so a state file can be served and what was applied can be inspected.
Role-definition ids are stored as bare GUIDs; adapters translate to and from the services' id forms.
Entra ID's part (directory objects, the emulator's sign-in directory) is state_directory.py.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from hsmsync.core.ids import Guid
from hsmsync.core.state_base import FrozenModel
from hsmsync.core.state_directory import DirectoryObject, PrincipalType, SignInDirectory


class Permission(FrozenModel):
    """One block of a role definition's `permissions` list, as Azure stores it.

    Azure evaluates each block on its own: a block's notActions/notDataActions subtract only from
    that block's actions/dataActions, and the role allows what any block allows
    (`core.capabilities.permits`). Blocks are therefore kept, never merged.
    """

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    # An ABAC condition on the block (Azure built-in roles such as Key Vault Data Access Administrator
    # carry one): what the block grants holds only where the condition allows it.
    condition: str = ""
    condition_version: str = ""


PERMISSION_LISTS = ("actions", "not_actions", "data_actions", "not_data_actions")


def _blocks_from_flat(data: Any) -> Any:
    """State files and saved plans written before blocks held the four lists flat on the role:
    read them as one block (which is what a single-block role is)."""
    if not isinstance(data, dict) or not any(k in data for k in PERMISSION_LISTS):
        return data
    if "permissions" in data:
        raise ValueError("give `permissions` (a list of blocks) or the flat action lists, not both")
    rest = {k: v for k, v in data.items() if k not in PERMISSION_LISTS}
    return {**rest, "permissions": [{k: data[k] for k in PERMISSION_LISTS if k in data}]}


class RoleDefinition(FrozenModel):
    """A Managed HSM role definition (built-in or custom), in the data plane's terms."""

    name: Guid = Field(description="The definition's GUID (its REST name).")
    role_name: str = ""
    description: str = ""
    role_type: Literal["AKVBuiltInRole", "CustomRole"] = "CustomRole"
    permissions: tuple[Permission, ...] = Field(
        default=(), description="Permission blocks, each evaluated on its own (flat lists are read as one)"
    )
    assignable_scopes: tuple[str, ...] = ("/",)

    _flat = model_validator(mode="before")(_blocks_from_flat)

    @property
    def is_builtin(self) -> bool:
        return self.role_type == "AKVBuiltInRole"


class DataRoleAssignment(FrozenModel):
    """A Managed HSM local-RBAC role assignment."""

    name: Guid
    scope: str = Field(description="'/', '/keys' or '/keys/<key-name>'")
    role_definition_id: Guid
    principal_id: Guid


class ArmRoleAssignment(FrozenModel):
    """An Azure RBAC (management-plane) role assignment at an ARM scope."""

    name: Guid
    scope: str
    role_definition_id: Guid
    principal_id: Guid
    principal_type: PrincipalType = "User"
    # Left out of dumps when absent (as `DirectoryObject.pim`): state files, saved plans'
    # fingerprints and goldens written before conditions existed stay the same.
    condition: str | None = Field(
        default=None, exclude_if=lambda v: v is None, description="ABAC condition, exactly as stored"
    )
    condition_version: str | None = Field(
        default=None, exclude_if=lambda v: v is None, description='"2.0" when there is a condition'
    )


class NetworkAcls(FrozenModel):
    default_action: Literal["Allow", "Deny"] = "Allow"
    bypass: Literal["AzureServices", "None"] = "AzureServices"
    ip_rules: tuple[str, ...] = ()


class HsmSettings(FrozenModel):
    """Security-relevant properties of the Managed HSM resource (management plane)."""

    purge_protection: bool = False
    soft_delete_retention_days: int = 90
    public_network_access: Literal["Enabled", "Disabled"] = "Enabled"
    network_acls: NetworkAcls = Field(default_factory=NetworkAcls)


class NetworkAclsPatch(FrozenModel):
    """The network rule fields a manifest manages: fields left None keep their live value."""

    default_action: Literal["Allow", "Deny"] | None = None
    bypass: Literal["AzureServices", "None"] | None = None
    ip_rules: tuple[str, ...] | None = None

    def applied_to(self, current: NetworkAcls) -> NetworkAcls:
        return current.model_copy(update=self.model_dump(exclude_none=True))


class HsmSettingsPatch(FrozenModel):
    """The settings a manifest manages: fields left None are not touched, at every depth."""

    purge_protection: bool | None = None
    soft_delete_retention_days: int | None = None
    public_network_access: Literal["Enabled", "Disabled"] | None = None
    network_acls: NetworkAclsPatch | None = None

    def applied_to(self, current: HsmSettings) -> HsmSettings:
        """`current` with the managed fields set: a partial `network_acls` keeps its siblings."""
        update = self.model_dump(exclude_none=True, exclude={"network_acls"})
        if self.network_acls is not None:
            update["network_acls"] = self.network_acls.applied_to(current.network_acls)
        return current.model_copy(update=update)


class DiagnosticSetting(FrozenModel):
    """A Microsoft.Insights diagnostic setting on a resource: which log categories go where."""

    name: str
    categories: tuple[str, ...] = ()
    storage_account_id: str | None = None
    workspace_id: str | None = None
    event_hub_authorization_rule_id: str | None = None
    event_hub_name: str | None = None


ARM_TRUST_SETTING = "AllowKeyManagementOperationsThroughARM"


class DataSetting(FrozenModel):
    """One of a Managed HSM's data-plane settings (GET {hsm}/settings): the value as the service
    writes it ("true"/"false" for the only type it has, boolean)."""

    name: str
    value: str
    type: Literal["boolean"] = "boolean"


# What a new HSM lists: Azure Resource Manager is not trusted with the HSM's keys.
DEFAULT_DATA_SETTINGS = (DataSetting(name=ARM_TRUST_SETTING, value="false"),)


class KeyProperties(FrozenModel):
    """A key's attributes as the data plane lists them (KeyClient.list_properties_of_keys) plus
    its type: what `hsmsync keys` shows and the key-expiry lint rules check. Optional in a state
    file: a key without them is listed by name only."""

    name: str
    kty: str | None = Field(default=None, description="Key type, e.g. RSA-HSM, EC-HSM, oct-HSM")
    enabled: bool = True
    expires_on: AwareDatetime | None = Field(
        default=None, description="Expiry (ISO 8601 with zone); none: never"
    )
    not_before: AwareDatetime | None = None
    created_on: AwareDatetime | None = Field(
        default=None, description="When the current version was created: its last rotation"
    )
    updated_on: AwareDatetime | None = None
    exportable: bool | None = None


class HsmState(FrozenModel):
    """One Managed HSM: identity, its creation-time administrators, its RBAC objects and keys."""

    url: str
    resource_id: str = ""
    initial_admin_object_ids: tuple[str, ...] = ()
    role_definitions: tuple[RoleDefinition, ...] = Field(
        default=(),
        description="Custom role definitions. Built-in roles come from the catalog unless "
        "`builtin_role_definitions` lists the HSM's own.",
    )
    builtin_role_definitions: tuple[RoleDefinition, ...] | None = None
    role_assignments: tuple[DataRoleAssignment, ...] = ()
    keys: tuple[str, ...] | None = Field(
        default=(), description="Key names; null when the backend did not list them all (not known)"
    )
    key_properties: tuple[KeyProperties, ...] = Field(
        default=(), description="Attributes of keys named in `keys`, where known (optional)"
    )
    settings: HsmSettings = Field(default_factory=HsmSettings)
    diagnostic_settings: tuple[DiagnosticSetting, ...] = ()
    data_settings: tuple[DataSetting, ...] | None = Field(
        default=None,
        description="The HSM's data-plane settings; null or left out: as a new HSM lists them "
        "(AllowKeyManagementOperationsThroughARM false)",
    )

    @property
    def listed_data_settings(self) -> tuple[DataSetting, ...]:
        return DEFAULT_DATA_SETTINGS if self.data_settings is None else self.data_settings

    @model_serializer(mode="wrap")
    def _without_unknown_key_properties(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Optional and new: a state (file, fingerprint) that has none reads and hashes as before.
        data: dict[str, Any] = handler(self)
        if not self.key_properties:
            data.pop("key_properties", None)
        return data

    @model_validator(mode="after")
    def _properties_of_listed_keys(self) -> HsmState:
        listed = {k.lower() for k in self.keys or ()}
        stray = [
            p.name for p in self.key_properties if self.keys is not None and p.name.lower() not in listed
        ]
        if stray:
            raise ValueError(f"key_properties name keys not in `keys`: {', '.join(stray)}")
        return self


class ArmRoleDefinition(FrozenModel):
    """A custom Azure role (management plane)."""

    name: Guid
    role_name: str
    description: str = ""
    permissions: tuple[Permission, ...] = Field(
        default=(), description="Permission blocks, each evaluated on its own (flat lists are read as one)"
    )
    assignable_scopes: tuple[str, ...] = ()

    _flat = model_validator(mode="before")(_blocks_from_flat)


class ArmState(FrozenModel):
    role_assignments: tuple[ArmRoleAssignment, ...] = ()
    # Every role assignment in a subscription, counted by the live backend when the manifest prunes
    # ARM (its deletes may have to precede its creates at the 4,000 limit). Not part of a state
    # file: there the listed assignments are all there is.
    subscription_assignment_counts: dict[str, int] = Field(
        default_factory=dict,
        exclude=True,
        description="Role assignments per subscription id, when counted (service limit 4,000)",
    )
    role_definitions: tuple[ArmRoleDefinition, ...] = Field(
        default=(), description="Custom Azure roles (built-in roles come from the catalog)"
    )
    builtin_role_definitions: tuple[ArmRoleDefinition, ...] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,  # absent from dumps unless read (fingerprints stay the same)
        description="Built-in Azure roles as ARM lists them, for the roles the listed assignments use "
        "(the live backend reads them; they take precedence over hsmsync's catalog). None: the catalog's",
    )


class AccessPolicy(FrozenModel):
    """One Key Vault access-policy entry: an object id and its permission lists (lower-cased).

    With an `application_id` it is a *compound identity*: the object (a user) holds the
    permissions only when it calls through that application (a token with both its oid and the
    application's appid). An entry is identified by (object id, application id): the plain entry
    of the same object id is another entry."""

    object_id: Guid
    application_id: Guid | None = Field(
        default=None,
        exclude_if=lambda v: v is None,  # absent from dumps when plain (states and fingerprints as before)
        description="Compound identity: the application (client) id the object must call through",
    )
    keys: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()
    storage: tuple[str, ...] = ()

    @property
    def entry_key(self) -> str:
        """The entry's identity as one string: the object id, or `object+application`."""
        return policy_entry_key(self.object_id, self.application_id)

    @property
    def compound(self) -> bool:
        return self.application_id is not None


def policy_entry_key(object_id: str, application_id: str | None) -> str:
    """Access-policy entries match on object and application id (as ARM matches them), case-blind."""
    oid = object_id.lower()
    return f"{oid}+{application_id.lower()}" if application_id else oid


class VaultState(FrozenModel):
    """A Key Vault (not an HSM): access policies, or Azure RBAC when enable_rbac_authorization."""

    url: str
    resource_id: str
    tenant_id: str = "00000000-0000-0000-0000-000000000000"
    enable_rbac_authorization: bool = False
    access_policies: tuple[AccessPolicy, ...] = ()
    keys: tuple[KeyProperties, ...] | None = Field(
        default=None, description="The vault's keys and their attributes; null when not read"
    )

    @model_validator(mode="after")
    def _one_entry_per_object_and_application(self) -> VaultState:
        """Azure holds one entry per (object, application), ids in any case: a state (file) with
        two would be read as one of them, hiding the other's permissions from plan and apply."""
        seen: dict[str, int] = {}
        for i, p in enumerate(self.access_policies):
            if p.entry_key in seen:
                through = f" via application {p.application_id}" if p.application_id else ""
                raise ValueError(
                    f"access_policies[{i}] is a second entry of {p.object_id}{through} (the first is "
                    f"access_policies[{seen[p.entry_key]}]); a vault holds one entry per object and "
                    "application: merge them"
                )
            seen[p.entry_key] = i
        return self

    @model_serializer(mode="wrap")
    def _without_unread_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Optional and new: a state (file, fingerprint) that has none reads and hashes as before.
        data: dict[str, Any] = handler(self)
        if self.keys is None:
            data.pop("keys", None)
        return data


class LiveState(FrozenModel):
    """Everything hsmsync knows about reality, keyed by the manifest's HSM names."""

    version: Literal[1] = 1
    tenant_id: str = "00000000-0000-0000-0000-000000000000"
    hsms: dict[str, HsmState] = Field(default_factory=dict)
    vaults: dict[str, VaultState] = Field(default_factory=dict)
    arm: ArmState = Field(default_factory=ArmState)
    directory: tuple[DirectoryObject, ...] | None = Field(
        default=None,
        description="Entra ID objects, when known (emulator: served as Graph; ARM then answers "
        "PrincipalNotFound for unknown principals)",
    )
    sign_in: SignInDirectory = Field(
        default_factory=SignInDirectory,
        description="Emulator only: applications and users its token service signs in",
    )
