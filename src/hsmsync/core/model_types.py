"""The building blocks of the manifest's models: the strict base model and the field types every
section uses (names, keys, display texts, scopes, resource ids, expiry times)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

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

# A data-plane setting's name as the service spells it (AllowKeyManagementOperationsThroughARM).
DataSettingName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,127}$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ArmResourceId = Annotated[
    str,
    StringConstraints(
        pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+(/[^/]+/[^/]+)*$"
    ),
    AfterValidator(check_arm_resource_id),
    Field(description="An ARM resource id"),
]


def one_permission_form(role: BaseModel, flat: tuple[str, ...]) -> None:
    """A role gives its permissions either flat (one block) or as a `permissions` list, not both."""
    given = role.model_fields_set
    if "permissions" in given and given & set(flat):
        raise ValueError(
            f"give either `permissions` (a list of blocks) or {', '.join(sorted(given & set(flat)))} "
            "(one block), not both"
        )


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
