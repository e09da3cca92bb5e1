"""The manifest (`hsmsync.yaml`) as pydantic v2 models: the product's interface.

Structural rules live here (types, unknown fields, GUID format, scope syntax); rules that need
the whole document (does this role exist, is this principal declared) live in `compile.py`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StringConstraints,
    Tag,
    model_validator,
)

from hsmsync.core.ids import Guid
from hsmsync.core.names import NAME_PATTERN, NAME_RULE, check_name, check_text
from hsmsync.core.scopes import (
    check_arm_resource_id,
    check_arm_scope,
    check_data_scope,
    check_management_scope,
)

Name = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
# The keys of principals, hsms, roles, arm_roles, vaults, teams and the references to them (core/names.py).
Key = Annotated[
    str,
    AfterValidator(check_name),
    Field(description=f"A name: {NAME_RULE}", json_schema_extra={"pattern": NAME_PATTERN}),
]
# Display names and role references: written exactly, never trimmed into another name.
Text = Annotated[str, StringConstraints(min_length=1), AfterValidator(check_text)]
DataScope = Annotated[
    str,
    AfterValidator(check_data_scope),
    Field(description="Managed HSM scope: '/', '/keys' or '/keys/<key-name>'"),
]
ArmScope = Annotated[
    str,
    AfterValidator(check_arm_scope),
    Field(description="ARM scope: management group, subscription, resource group or resource"),
]

ManagementScope = Annotated[
    str,
    AfterValidator(check_management_scope),
    Field(
        description="ARM scope (management group, subscription, resource group or resource; below a "
        "Key Vault: .../vaults/<v>/keys|secrets|certificates/<name>), or the shorthand vault:<name> / "
        "vault:<name>/keys|secrets|certificates/<name> for a vault declared under `vaults`"
    ),
]
CONDITION_VERSION = "2.0"


# A data-plane setting's name as the service spells it (AllowKeyManagementOperationsThroughARM).
DataSettingName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,127}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principal(_Strict):
    """An Entra ID identity: a group, a user, or a service principal (managed identities too)."""

    type: Literal["User", "Group", "ServicePrincipal"]
    id: Guid | None = Field(
        default=None,
        description="The object id in Entra ID. Leave it out and give `name` (or `upn` for users): "
        "`hsmsync resolve` looks it up and writes it back",
    )
    name: str | None = Field(default=None, description="Display name")
    upn: str | None = Field(default=None, description="User principal name (users only)")


ArmResourceId = Annotated[
    str,
    StringConstraints(
        pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+(/[^/]+/[^/]+)*$"
    ),
    AfterValidator(check_arm_resource_id),
    Field(description="An ARM resource id"),
]


class NetworkAclsSpec(_Strict):
    """Network rules of the HSM; fields left out are not managed (their live value is kept)."""

    default_action: Literal["Allow", "Deny"] | None = None
    bypass: Literal["AzureServices", "None"] | None = None
    ip_rules: (
        list[Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")]] | None
    ) = Field(default=None, description="IPv4 addresses or CIDR ranges (the whole list is managed)")


class HsmSettingsSpec(_Strict):
    """Security settings of the HSM resource; keys left out are not managed."""

    purge_protection: bool | None = Field(default=None, description="Cannot be turned off once on")
    soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] | None = Field(
        default=None, description="7 to 90 days; fixed once the HSM exists"
    )
    public_network_access: Literal["Enabled", "Disabled"] | None = None
    network_acls: NetworkAclsSpec | None = None


class EventHubDestination(_Strict):
    authorization_rule_id: Annotated[str, StringConstraints(min_length=1)]
    name: str | None = None


class LoggingSpec(_Strict):
    """Audit logging: a diagnostic setting on the HSM resource (Microsoft.Insights)."""

    name: Name = "hsmsync-audit"
    categories: list[Name] = Field(default_factory=lambda: ["AuditEvent"], min_length=1)
    storage_account: ArmResourceId | None = None
    workspace: ArmResourceId | None = None
    event_hub: EventHubDestination | None = None


class Hsm(_Strict):
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


class DataPermissionBlock(_Strict):
    """One permission block of a custom HSM role; Azure evaluates each block on its own."""

    data_actions: list[Name] = Field(min_length=1)
    not_data_actions: list[Name] = Field(
        default_factory=list, description="Excluded from this block's data_actions only"
    )


class ArmPermissionBlock(_Strict):
    """One permission block of a custom Azure role; Azure evaluates each block on its own."""

    actions: list[Name] = Field(default_factory=list)
    not_actions: list[Name] = Field(
        default_factory=list, description="Excluded from this block's actions only"
    )
    data_actions: list[Name] = Field(default_factory=list)
    not_data_actions: list[Name] = Field(
        default_factory=list, description="Excluded from this block's data_actions only"
    )


def _one_permission_form(role: BaseModel, flat: tuple[str, ...]) -> None:
    """A role gives its permissions either flat (one block) or as a `permissions` list, not both."""
    given = role.model_fields_set
    if "permissions" in given and given & set(flat):
        raise ValueError(
            f"give either `permissions` (a list of blocks) or {', '.join(sorted(given & set(flat)))} "
            "(one block), not both"
        )


class CustomRole(_Strict):
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
        _one_permission_form(self, ("data_actions", "not_data_actions"))
        if self.permissions is None and self.data_actions is None:
            raise ValueError("give `data_actions` (one block) or `permissions` (a list of blocks)")
        return self


def _expiry_time(value: object) -> object:
    """An ISO 8601 time with a time zone: a date alone or a time without a zone is ambiguous
    (whose midnight?), so it is an error, never a guess."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-12-31T18:00:00Z or +01:00")
        return value.astimezone(UTC)
    if isinstance(value, date):
        example = f"{value.isoformat()}T00:00:00Z"
        raise ValueError(f"give a time with a time zone, e.g. {example}, not a date alone")
    if isinstance(value, str):
        try:
            return _expiry_time(date.fromisoformat(value.strip()))  # a date alone: refused above
        except ValueError as exc:
            if "date alone" in str(exc):
                raise
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not an ISO 8601 time, e.g. 2026-12-31T18:00:00Z") from None
        return _expiry_time(parsed)
    raise ValueError("must be an ISO 8601 time with a time zone, e.g. 2026-12-31T18:00:00Z")


Expiry = Annotated[
    datetime,
    BeforeValidator(_expiry_time),
    Field(
        description="When the grant ends (ISO 8601 with a time zone): after it, the assignment is "
        "no longer desired, so drift reports it and apply removes it"
    ),
]


class DataAssignment(_Strict):
    """A Managed HSM local-RBAC assignment for every member of a team."""

    hsm: Key
    role: Text = Field(description="Role name, short name, GUID, or the key of a custom role")
    scope: DataScope = "/"
    expires: Expiry | None = None


def _version_text(value: object) -> object:
    # YAML reads an unquoted 2.0 as a float; it can only mean the version "2.0".
    return CONDITION_VERSION if isinstance(value, float) and value == 2.0 else value


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("a condition may not be blank; leave `condition` out for none")
    return text


class ManagementAssignment(_Strict):
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


class Team(_Strict):
    members: list[Key] = Field(description="Keys of `principals`")
    management: list[ManagementAssignment] = Field(default_factory=list)
    data: list[DataAssignment] = Field(default_factory=list)


class Permissions(_Strict):
    """Key Vault access-policy permission lists; `all` expands to every permission."""

    application: Guid | None = Field(
        default=None,
        description="A compound identity: the principal (a user) holds these permissions only when it "
        "calls through this application (its application/client id, as Azure's applicationId)",
    )
    keys: list[Name] = Field(default_factory=list)
    secrets: list[Name] = Field(default_factory=list)
    certificates: list[Name] = Field(default_factory=list)
    storage: list[Name] = Field(default_factory=list)


# How pydantic names the two forms of a principal's access policies in an error's location: the
# manifest loader drops them, so an error points at the field as written (`alice.application`).
POLICY_FORM_TAGS = ("<one entry>", "<entries>")
PolicyEntries = Annotated[
    Annotated[Permissions, Tag(POLICY_FORM_TAGS[0])] | Annotated[list[Permissions], Tag(POLICY_FORM_TAGS[1])],
    Discriminator(lambda v: POLICY_FORM_TAGS[1] if isinstance(v, list) else POLICY_FORM_TAGS[0]),
]


class VaultMigrationOptions(_Strict):
    """How `hsmsync migrate` moves the vault from access policies to Azure RBAC."""

    custom_roles: bool = Field(
        default=True,
        description="Generate a custom Azure role where no built-in role gives exactly an identity's "
        "access; false: what no built-in role gives is lost (and must be accepted)",
    )
    accept_loss: dict[Key, list[Name]] = Field(
        default_factory=dict,
        description="Per principal (a key of `principals`): access-policy permissions it may lose in the "
        "move (e.g. keys/backup), or `via <application id>`: its compound-identity entry through that "
        "application, which Azure RBAC cannot express; any other loss refuses the migration",
    )


class Vault(_Strict):
    """A Key Vault (not an HSM): access policies, or Azure RBAC (`rbac: true`)."""

    url: Annotated[str, StringConstraints(pattern=r"^https://[^/\s]+/?$")]
    resource_id: Annotated[
        str,
        StringConstraints(
            pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/[^/]+$"
        ),
        AfterValidator(check_arm_resource_id),
    ]
    rbac: bool = Field(default=False, description="Azure RBAC instead of access policies")
    prune: bool = Field(default=False, description="Remove access policies the manifest does not declare")
    access_policies: dict[Key, PolicyEntries] = Field(
        default_factory=dict,
        description="Per principal (a key of `principals`): its entry, or a list of entries (its own "
        "and its compound ones, each with a different `application`)",
    )
    migration: VaultMigrationOptions | None = Field(
        default=None, description="How `hsmsync migrate` moves the vault to Azure RBAC"
    )


class ArmRole(_Strict):
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
        _one_permission_form(self, ("actions", "not_actions", "data_actions", "not_data_actions"))
        if self.permissions is not None and len(self.permissions) > 1:
            # The Azure RBAC service takes exactly one permissions entry in a custom role.
            raise ValueError("a custom Azure role holds exactly one permission block (an Azure RBAC rule)")
        return self


class ManagementOptions(_Strict):
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


class Suppression(_Strict):
    """Silence one lint rule for one target, with a reason reviewers can read."""

    rule: Annotated[str, StringConstraints(pattern=r"^HSM\d{3}$")] = Field(description="Rule id, e.g. HSM003")
    target: Name = Field(description="What the finding is about: a principal, custom role or HSM name, or *")
    justification: Annotated[str, StringConstraints(min_length=10, strip_whitespace=True)] = Field(
        description="Why this is acceptable (required)"
    )


class LintOptions(_Strict):
    suppress: list[Suppression] = Field(default_factory=list)
    min_soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] = Field(
        default=30, description="HSM008 fires below this many days"
    )
    key_expiry_warning_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        default=30, description="HSM031 fires for keys expiring within this many days (or expired)"
    )
    require_expiry_for_admin: bool = Field(
        default=False,
        description="HSM020 warns about a grant that can assign roles (Administrator, Crypto Officer, "
        "Policy Administrator, Owner, User Access Administrator...) without `expires`",
    )
    max_grant_days: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="HSM021 warns about an `expires` further out than this many days"
    )


def _integer_not_bool_or_float(value: object) -> object:
    # Lax validation reads YAML `true` and `1.0` as 1: the version is the integer 1 exactly.
    if isinstance(value, bool | float):
        raise ValueError(f"must be the integer 1, not {value!r}")
    return value


class Manifest(_Strict):
    """hsmsync manifest: who may do what on which Managed HSM, on both planes."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="hsmsync manifest",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    version: Annotated[Literal[1], BeforeValidator(_integer_not_bool_or_float)]
    principals: dict[Key, Principal] = Field(default_factory=dict)
    hsms: dict[Key, Hsm] = Field(default_factory=dict)
    roles: dict[Key, CustomRole] = Field(default_factory=dict)
    arm_roles: dict[Key, ArmRole] = Field(default_factory=dict)
    vaults: dict[Key, Vault] = Field(default_factory=dict)
    teams: dict[Key, Team] = Field(default_factory=dict)
    management: ManagementOptions = Field(default_factory=ManagementOptions)
    lint: LintOptions = Field(default_factory=LintOptions)
