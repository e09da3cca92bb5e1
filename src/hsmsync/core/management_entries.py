"""What a team's `management:` entry means beyond its role: the scope it names (an ARM scope, or
the `vault:` shorthand for a declared vault) and its ABAC condition. Pure helpers of compile.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from hsmsync.core.catalog import names_only_role_ids
from hsmsync.core.model_management import CONDITION_VERSION, ManagementAssignment
from hsmsync.core.model_vault import Vault
from hsmsync.core.names import close_names
from hsmsync.core.scopes import parse_vault_shorthand
from hsmsync.core.state import RoleDefinition


class Condition(NamedTuple):
    """An Azure role assignment's ABAC condition and its language version (both None: none)."""

    text: str | None
    version: str | None


NO_CONDITION = Condition(None, None)


def condition_of(entry: ManagementAssignment) -> Condition:
    """The entry's condition; its version defaults to 2.0, the only one Azure has."""
    if entry.condition is None:
        return NO_CONDITION
    return Condition(entry.condition, entry.condition_version or CONDITION_VERSION)


def resolve_scope(scope: str, vaults: Mapping[str, Vault]) -> str:
    """The ARM scope an entry names: as written, or `vault:<name>[/<type>/<object>]` resolved
    against the declared vault's resource id; ValueError naming the declared vaults otherwise."""
    shorthand = parse_vault_shorthand(scope)
    if shorthand is None:
        return scope
    vault = vaults.get(shorthand.vault)
    if vault is None:
        close = close_names(shorthand.vault, sorted(vaults))
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        declared = ", ".join(sorted(vaults)) or "(none)"
        raise ValueError(f"'{scope}': unknown vault '{shorthand.vault}'; declared: {declared}{hint}")
    return shorthand.resolve(vault.resource_id)


def names_only_warning(where: str, role: RoleDefinition) -> str | None:
    """A warning when the catalog knows the role by name and GUID only (no permissions yet)."""
    if role.name not in names_only_role_ids():
        return None
    return (
        f"{where}: Azure role '{role.role_name}' is in hsmsync's catalog by name and GUID only, so "
        "risks and lint cannot see what it allows (`make refresh-roles` adds its permissions; --live "
        "uses the definition ARM lists); --strict refuses it"
    )


def condition_conflict(role: str, scope: str, principal: str, first: str) -> str:
    """Two entries give one role, principal and scope different conditions."""
    return (
        f"'{role}' at '{scope}' for '{principal}' is also assigned by {first} with another condition; "
        "Azure keeps one assignment (and one condition) per role, principal and scope: give both the "
        "same condition"
    )
