"""The manifest (`hsmsync.yaml`) as pydantic v2 models: the product's interface. This module holds
the document's top level (principals, teams, lint options, the `Manifest`); the sections' models
live in model_hsm.py, model_vault.py and model_management.py, their field types in model_types.py.

Structural rules live in these models (types, unknown fields, GUID format, scope syntax); rules that
need the whole document (does this role exist, is this principal declared) live in `compile.py`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints

from hsmsync.core.ids import Guid
from hsmsync.core.model_hsm import CustomRole, DataAssignment, Hsm
from hsmsync.core.model_management import ArmRole, ManagementAssignment, ManagementOptions
from hsmsync.core.model_types import Key, Name, StrictModel
from hsmsync.core.model_vault import Vault


class Principal(StrictModel):
    """An Entra ID identity: a group, a user, or a service principal (managed identities too)."""

    type: Literal["User", "Group", "ServicePrincipal"]
    id: Guid | None = Field(
        default=None,
        description="The object id in Entra ID. Leave it out and give `name` (or `upn` for users): "
        "`hsmsync resolve` looks it up and writes it back",
    )
    name: str | None = Field(default=None, description="Display name")
    upn: str | None = Field(default=None, description="User principal name (users only)")


class Team(StrictModel):
    members: list[Key] = Field(description="Keys of `principals`")
    management: list[ManagementAssignment] = Field(default_factory=list)
    data: list[DataAssignment] = Field(default_factory=list)


class Suppression(StrictModel):
    """Silence one lint rule for one target, with a reason reviewers can read."""

    rule: Annotated[str, StringConstraints(pattern=r"^HSM\d{3}$")] = Field(description="Rule id, e.g. HSM003")
    target: Name = Field(description="What the finding is about: a principal, custom role or HSM name, or *")
    justification: Annotated[str, StringConstraints(min_length=10, strip_whitespace=True)] = Field(
        description="Why this is acceptable (required)"
    )


class LintOptions(StrictModel):
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


class Manifest(StrictModel):
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
