"""The role catalog: built-in data-plane roles, management-plane roles, and name resolution.

Roles are referred to by full name, by short name without the "Managed HSM " prefix (any case),
by role-definition GUID, or (data plane) by the key of a custom role in the manifest.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from hsmsync.core.state import ArmRoleDefinition, Permission, RoleDefinition

DATA_ACTION_PREFIX = "Microsoft.KeyVault/managedHsm/"
_SHORT_PREFIX = "managed hsm "


def _read_data(name: str) -> dict[str, Any]:
    # Package data is part of the code, not I/O against the outside world.
    text = resources.files("hsmsync.data").joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


_REST_LISTS = (
    ("actions", "actions"),
    ("not_actions", "notActions"),
    ("data_actions", "dataActions"),
    ("not_data_actions", "notDataActions"),
)


def permission_from_rest(block: Mapping[str, Any]) -> Permission:
    """One `permissions[]` block from its REST (camelCase) shape; absent lists are empty."""
    return Permission.model_validate({ours: tuple(block.get(rest) or ()) for ours, rest in _REST_LISTS})


def permission_to_rest(block: Permission) -> dict[str, list[str]]:
    return {rest: list(getattr(block, ours)) for ours, rest in _REST_LISTS}


def definition_from_rest(item: Mapping[str, Any]) -> RoleDefinition:
    """A role definition from its REST shape (`id`, `name`, `properties.permissions[]`...).
    The blocks are kept as they are: Azure evaluates each on its own."""
    props = item.get("properties", {})
    return RoleDefinition(
        name=item["name"],
        role_name=props.get("roleName") or "",
        description=props.get("description") or "",
        role_type=props.get("type") or "CustomRole",
        permissions=tuple(permission_from_rest(p) for p in props.get("permissions") or ()),
        assignable_scopes=tuple(props.get("assignableScopes") or ("/",)),
    )


def definition_to_rest(
    role: RoleDefinition | ArmRoleDefinition,
    *,
    id_prefix: str,
    role_type: str | None = None,
    **more_properties: Any,
) -> dict[str, Any]:
    """The REST shape of a role definition, data plane or ARM: what `hsmsync roles --format json`
    prints and what the emulator serves (`role_type` defaults to the role's own; the emulator
    adds the service's timestamps through `more_properties`)."""
    return {
        "id": f"{id_prefix}{role.name}",
        "name": role.name,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role.role_name,
            "description": role.description,
            "type": role_type or (role.role_type if isinstance(role, RoleDefinition) else "CustomRole"),
            "assignableScopes": list(role.assignable_scopes),
            "permissions": [permission_to_rest(p) for p in role.permissions],
            **more_properties,
        },
    }


@cache
def builtin_data_roles() -> tuple[RoleDefinition, ...]:
    return tuple(definition_from_rest(r) for r in _read_data("builtin_data_roles.json")["value"])


@cache
def management_roles() -> tuple[RoleDefinition, ...]:
    """The Azure built-in roles (package data, read on first use: commands that never resolve an
    Azure role never pay for it)."""
    return tuple(
        RoleDefinition(role_type="AKVBuiltInRole", **{k: v for k, v in r.items() if k not in _NOT_FIELDS})
        for r in _read_data("management_roles.json")["value"]
    )


_NOT_FIELDS = ("names_only", "other_names")


@cache
def management_role_other_names() -> dict[str, RoleDefinition]:
    """Other names of Azure built-in roles (a role Microsoft renamed, or named differently in its
    index and its category page): each still resolves to the role."""
    by_guid = {r.name: r for r in management_roles()}
    return {
        other: by_guid[r["name"]]
        for r in _read_data("management_roles.json")["value"]
        for other in r.get("other_names", ())
    }


@cache
def names_only_role_ids() -> frozenset[str]:
    """Azure built-in roles the catalog knows by name and GUID only (no permissions yet; see
    scripts/refresh_roles.py): what hsmsync reasons about them is incomplete."""
    return frozenset(r["name"] for r in _read_data("management_roles.json")["value"] if r.get("names_only"))


def management_role_map(
    custom: Iterable[ArmRoleDefinition] = (), listed: Iterable[ArmRoleDefinition] | None = None
) -> dict[str, RoleDefinition]:
    """Azure roles by GUID: the built-in ones hsmsync knows, plus custom ones (manifest or live).

    `listed`: built-in roles as ARM listed them (live state); they take precedence over the
    shipped catalog, which may be older than the service (and add roles it lacks)."""
    roles = {r.name: r for r in management_roles()}
    for b in listed or ():
        shipped = roles.get(b.name)
        roles[b.name] = RoleDefinition(
            name=b.name,
            role_name=b.role_name,
            description=b.description,
            role_type="AKVBuiltInRole",
            permissions=_keep_block_conditions(b.permissions, shipped.permissions if shipped else ()),
        )
    for c in custom:
        roles[c.name] = RoleDefinition(
            name=c.name, role_name=c.role_name, description=c.description, permissions=c.permissions
        )
    return roles


def _keep_block_conditions(
    listed: tuple[Permission, ...], shipped: tuple[Permission, ...]
) -> tuple[Permission, ...]:
    """ARM's role-definition API versions before 2022-05-01-preview do not return a block's
    condition: a listed block without one, equal in its four lists to a shipped block that has one,
    keeps the shipped condition. Dropping it would read a restricted grant (Key Vault Data Access
    Administrator may assign only the Key Vault data roles) as an unrestricted one."""
    conditioned = {_lists(p): p for p in shipped if p.condition}
    return tuple(
        p.model_copy(update={"condition": c.condition, "condition_version": c.condition_version})
        if not p.condition and (c := conditioned.get(_lists(p))) is not None
        else p
        for p in listed
    )


def _lists(block: Permission) -> tuple[tuple[str, ...], ...]:
    return (block.actions, block.not_actions, block.data_actions, block.not_data_actions)


class RoleIndex:
    """Resolves a role reference against one catalog (a plane, or one HSM's definitions)."""

    def __init__(self, roles: Iterable[RoleDefinition], aliases: Mapping[str, RoleDefinition] = {}):
        self._by_key: dict[str, RoleDefinition] = {}
        self._names: list[str] = []
        roles = list(roles)
        # Full names first: "Contributor" is the Azure role, not "Managed HSM Contributor" shortened.
        for role in roles:
            self._add(role.role_name, role)
            self._by_key[role.name.lower()] = role
            self._names.append(role.role_name)
        for role in roles:
            if role.role_name.lower().startswith(_SHORT_PREFIX):
                self._add(role.role_name[len(_SHORT_PREFIX) :], role)
        for alias, role in aliases.items():
            self._add(alias, role)
            self._names.append(alias)

    def _add(self, name: str, role: RoleDefinition) -> None:
        self._by_key.setdefault(name.strip().lower(), role)

    def find(self, reference: str) -> RoleDefinition | None:
        """The role a manifest's reference (a name, a short name, an alias or a GUID) names."""
        return self._by_key.get(reference.strip().lower())

    def suggestions(self, reference: str, n: int = 3) -> list[str]:
        lowered = {name.lower(): name for name in self._names}
        close = difflib.get_close_matches(reference.lower(), list(lowered), n=n, cutoff=0.4)
        if not close:
            close = [k for k in lowered if reference.lower() in k][:n]
        return [lowered[c] for c in close]

    @property
    def names(self) -> list[str]:
        return list(self._names)
