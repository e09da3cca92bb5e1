"""Pure conversions between the SDKs' id and scope forms and hsmsync's (bare GUIDs, '/keys/<k>')."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from hsmsync.core.ids import guid_of, is_guid
from hsmsync.core.scopes import normalize_arm_scope, normalize_data_scope
from hsmsync.core.state_directory import PrincipalType

DATA_ROLE_DEFINITION_PREFIX = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"
_ROLE_DEFINITIONS = "/providers/Microsoft.Authorization/roleDefinitions/"
_SUBSCRIPTION = re.compile(r"(?i)^/subscriptions/([^/]+)")
_MANAGEMENT_GROUP = re.compile(r"(?i)^/providers/Microsoft\.Management/managementGroups/([^/]+)")
_MANAGED_HSM = re.compile(
    r"(?i)^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.KeyVault/managedHSMs/([^/]+)$"
)


def enum_text(value: object) -> str:
    """The wire value of an SDK str-enum (KeyVaultDataAction, KeyVaultRoleType...) or of a str.

    On Python 3.11 `str()` of a str-enum gives 'DataAction.READ_HSM_KEY', never the value.
    """
    raw = value.value if isinstance(value, Enum) else value
    return raw if isinstance(raw, str) else str(raw)


def scope_text(scope: object) -> str:
    """A data-plane scope as hsmsync writes it, from a str or a `KeyVaultRoleScope` enum.

    (On Python 3.11 `str()` of a str-enum gives 'KeyVaultRoleScope.GLOBAL', hence `.value`.)
    """
    text = enum_text(scope)
    try:
        return normalize_data_scope(text)
    except ValueError:
        return "/" + "/".join(p for p in text.split("/") if p)


def data_role_definition_id(role_guid: str) -> str:
    """The data plane's role-definition id for a GUID (no leading slash)."""
    return f"{DATA_ROLE_DEFINITION_PREFIX}{role_guid.lower()}"


def role_guid(definition_id: str) -> str:
    """The bare, lower-case GUID of any role-definition id form (or of a bare GUID)."""
    guid = guid_of(definition_id)
    if not is_guid(guid):
        raise ValueError(f"'{definition_id}' does not end in a role-definition GUID")
    return guid


@dataclass(frozen=True, slots=True)
class ArmScope:
    """What an ARM scope belongs to: a subscription, or a management group."""

    scope: str
    subscription_id: str | None
    management_group: str | None


def parse_arm_scope(scope: str) -> ArmScope:
    cleaned = normalize_arm_scope(scope)
    sub = _SUBSCRIPTION.match(cleaned)
    mg = _MANAGEMENT_GROUP.match(cleaned)
    return ArmScope(cleaned, sub.group(1) if sub else None, mg.group(1) if mg else None)


def arm_role_definition_id(scope: str, role_guid_: str) -> str:
    """The ARM role-definition id to send when assigning at `scope`."""
    parsed = parse_arm_scope(scope)
    if parsed.subscription_id:
        return f"/subscriptions/{parsed.subscription_id}{_ROLE_DEFINITIONS}{role_guid_.lower()}"
    assert parsed.management_group is not None
    return (
        f"/providers/Microsoft.Management/managementGroups/{parsed.management_group}"
        f"{_ROLE_DEFINITIONS}{role_guid_.lower()}"
    )


@dataclass(frozen=True, slots=True)
class ManagedHsmId:
    subscription_id: str
    resource_group: str
    name: str


def parse_managed_hsm_id(resource_id: str) -> ManagedHsmId | None:
    m = _MANAGED_HSM.match("/" + "/".join(p for p in resource_id.strip().split("/") if p))
    return ManagedHsmId(m.group(1), m.group(2), m.group(3)) if m else None


def arm_principal_type(value: object) -> PrincipalType:
    """ARM principal types folded into hsmsync's three (ForeignGroup is a group; MSI an SP)."""
    text = enum_text(value or "").lower()
    if "group" in text:
        return "Group"
    if text in ("", "user"):
        return "User"
    return "ServicePrincipal"
