"""The manifest's Key Vault models: a vault with its access policies (one entry, or several for
compound identities) or Azure RBAC, and the options of its move to Azure RBAC."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Discriminator, Field, StringConstraints, Tag

from hsmsync.core.ids import Guid
from hsmsync.core.model_types import Key, Name, StrictModel
from hsmsync.core.scopes import check_arm_resource_id


class Permissions(StrictModel):
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


class VaultMigrationOptions(StrictModel):
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


class Vault(StrictModel):
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
