"""Live state as data: what a backend reports and what the fake state file holds.

The same models serialise the fake state file (`schemas/state.schema.json`) and the emulator's
store, so a state file can be served and what was applied can be inspected.
Role-definition ids are stored as bare GUIDs; adapters translate to and from the services' id forms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from hsmsync.core.ids import Guid

PrincipalType = Literal["User", "Group", "ServicePrincipal"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Permission(_Frozen):
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


class RoleDefinition(_Frozen):
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


class DataRoleAssignment(_Frozen):
    """A Managed HSM local-RBAC role assignment."""

    name: Guid
    scope: str = Field(description="'/', '/keys' or '/keys/<key-name>'")
    role_definition_id: Guid
    principal_id: Guid


class ArmRoleAssignment(_Frozen):
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


class NetworkAcls(_Frozen):
    default_action: Literal["Allow", "Deny"] = "Allow"
    bypass: Literal["AzureServices", "None"] = "AzureServices"
    ip_rules: tuple[str, ...] = ()


class HsmSettings(_Frozen):
    """Security-relevant properties of the Managed HSM resource (management plane)."""

    purge_protection: bool = False
    soft_delete_retention_days: int = 90
    public_network_access: Literal["Enabled", "Disabled"] = "Enabled"
    network_acls: NetworkAcls = Field(default_factory=NetworkAcls)


class NetworkAclsPatch(_Frozen):
    """The network rule fields a manifest manages: fields left None keep their live value."""

    default_action: Literal["Allow", "Deny"] | None = None
    bypass: Literal["AzureServices", "None"] | None = None
    ip_rules: tuple[str, ...] | None = None

    def applied_to(self, current: NetworkAcls) -> NetworkAcls:
        return current.model_copy(update=self.model_dump(exclude_none=True))


class HsmSettingsPatch(_Frozen):
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


class DiagnosticSetting(_Frozen):
    """A Microsoft.Insights diagnostic setting on a resource: which log categories go where."""

    name: str
    categories: tuple[str, ...] = ()
    storage_account_id: str | None = None
    workspace_id: str | None = None
    event_hub_authorization_rule_id: str | None = None
    event_hub_name: str | None = None


ARM_TRUST_SETTING = "AllowKeyManagementOperationsThroughARM"


class DataSetting(_Frozen):
    """One of a Managed HSM's data-plane settings (GET {hsm}/settings): the value as the service
    writes it ("true"/"false" for the only type it has, boolean)."""

    name: str
    value: str
    type: Literal["boolean"] = "boolean"


# What a new HSM lists: Azure Resource Manager is not trusted with the HSM's keys.
DEFAULT_DATA_SETTINGS = (DataSetting(name=ARM_TRUST_SETTING, value="false"),)


class KeyProperties(_Frozen):
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


class HsmState(_Frozen):
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


class ArmRoleDefinition(_Frozen):
    """A custom Azure role (management plane)."""

    name: Guid
    role_name: str
    description: str = ""
    permissions: tuple[Permission, ...] = Field(
        default=(), description="Permission blocks, each evaluated on its own (flat lists are read as one)"
    )
    assignable_scopes: tuple[str, ...] = ()

    _flat = model_validator(mode="before")(_blocks_from_flat)


class ArmState(_Frozen):
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


class AccessPolicy(_Frozen):
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


class VaultState(_Frozen):
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


class PimMembership(_Frozen):
    """A PIM for Groups membership (Graph's privilegedAccessGroup eligibility or assignment
    schedule, accessId `member`): `eligible` grants nothing until activated; `active` is a
    membership now, until `end` (none: permanent). A schedule is in force from `start` until
    just before `end` (core/expiry.py `live_as_of` leaves out the others)."""

    group: Guid = Field(description="The PIM-governed group's object id")
    status: Literal["eligible", "active"]
    # Left out of dumps when absent: state files and fingerprints written before it stay the same.
    start: datetime | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="When the schedule starts (none: already started)",
    )
    end: datetime | None = Field(default=None, description="When the schedule ends (none: never)")


class DirectoryObject(_Frozen):
    """An Entra ID object the emulator's minimal Graph serves (and PrincipalNotFound checks)."""

    id: Guid
    type: PrincipalType
    display_name: str
    user_principal_name: str | None = None
    member_of: tuple[str, ...] = Field(
        default=(),
        description="Groups it is a direct member of (Graph's memberOf; the emulator "
        "also honours them on ARM and Graph for tokens without a `groups` claim; the HSM data plane "
        "ignores a service principal's groups)",
    )
    pim: tuple[PimMembership, ...] = Field(
        default=(),
        # Left out of dumps when empty: state files, saved plans' fingerprints and goldens written
        # before PIM memberships existed stay the same.
        exclude_if=lambda pim: not pim,
        description="PIM for Groups memberships: eligible (granted once activated) or active "
        "(a membership until its end)",
    )


def transitive_groups(directory: tuple[DirectoryObject, ...] | None, object_id: str) -> frozenset[str]:
    """Every group `object_id` is a member of, directly or through other groups (lower-cased)."""
    # An active PIM for Groups membership is a membership; an eligible one is not (until activated).
    parents = {
        o.id.lower(): {g.lower() for g in o.member_of}
        | {p.group.lower() for p in o.pim if p.status == "active"}
        for o in directory or ()
    }
    found: set[str] = set()
    todo = list(parents.get(object_id.lower(), ()))
    while todo:
        group = todo.pop()
        if group not in found:
            found.add(group)
            todo.extend(parents.get(group, ()))
    return frozenset(found)


class FederatedCredential(_Frozen):
    """A federated identity credential of an application: whose OIDC tokens it accepts."""

    issuer: str = Field(description="e.g. https://token.actions.githubusercontent.com")
    subject: str = Field(description="e.g. repo:contoso/hsm-access:environment:production")
    audiences: tuple[str, ...] = ("api://AzureADTokenExchange",)


class SignInApplication(_Frozen):
    """An application (service principal) that can sign in to the emulator's token service."""

    client_id: Guid = Field(description="The application (client) id")
    object_id: Guid = Field(description="The service principal's object id")
    display_name: str = ""
    client_secret_sha256: tuple[str, ...] = Field(
        default=(), description="SHA-256 (hex) of each client secret it accepts"
    )
    federated_credentials: tuple[FederatedCredential, ...] = ()
    managed_identity: bool = Field(
        default=False, description="served by the managed-identity endpoint (the first one without client_id)"
    )


class SignInUser(_Frozen):
    """A user who can sign in (password grant, the emulator's stand-in for `az login`)."""

    object_id: Guid
    user_principal_name: str
    password_sha256: str = Field(description="SHA-256 (hex) of the password")
    groups: tuple[str, ...] = Field(default=(), description="group object ids (the token's groups claim)")


class SignInDirectory(_Frozen):
    """Who may sign in to the emulator's token service, and as which object."""

    applications: tuple[SignInApplication, ...] = ()
    users: tuple[SignInUser, ...] = ()


class LiveState(_Frozen):
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
