"""Moving a Key Vault from access policies to Azure RBAC: per identity, the Azure roles that give
the same data access, and what the move keeps, gains and loses. Pure.

Access is compared in the access-policy vocabulary (`keys/get`, `secrets/set`...): a permission
is held under RBAC when every data action Microsoft maps it to (data/vault_rbac_migration.json,
from the Access Policy to RBAC compare tool) is allowed by one of the identity's roles. RBAC is
coarser in places (`keys/read` is both get and list), so a role can give a permission the
access policy did not: that is *gained*, shown, never refused. A permission the roles do not
give is *lost*: refused unless the manifest accepts it for that identity.

The roles proposed, in order: the built-in roles of Microsoft's template table where the
identity holds a whole template; then any Key Vault built-in role giving exactly a part of what
is left (nothing more); then, for what still is left, one generated custom role with exactly those
data actions (unless custom roles are turned off, when what is left is lost).

A compound identity's entry (a user only through an application) has no Azure RBAC equivalent
(Microsoft's access policy to RBAC mapping has none; a role assignment to the user would give the
user that access through *any* application): it gets no role and all of it is lost, refused unless
the manifest accepts it as `<user>: [via <application id>]` under `accept_loss`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache

from hsmsync.core.capabilities import permits
from hsmsync.core.catalog import _read_data, management_roles
from hsmsync.core.desired import MigrationChoices, PrincipalInfo
from hsmsync.core.ids import is_guid
from hsmsync.core.model_vault import VaultMigrationOptions
from hsmsync.core.scopes import arm_scope_key
from hsmsync.core.state import AccessPolicy, Permission, RoleDefinition
from hsmsync.core.vault_permissions import PERMISSIONS, POLICY_KINDS, normalize_permissions

VAULT_DATA_PREFIX = "Microsoft.KeyVault/vaults/"


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    permissions: frozenset[str]
    roles: tuple[str, ...]


@cache
def permission_actions() -> dict[str, tuple[str, ...]]:
    """`keys/get` -> the data actions that allow it (every access-policy permission)."""
    data = _read_data("vault_rbac_migration.json")["permission_actions"]
    return {k: tuple(v) for k, v in data.items()}


@cache
def templates() -> tuple[Template, ...]:
    out = []
    for row in _read_data("vault_rbac_migration.json")["templates"]:
        perms: set[str] = set()
        for kind, names in row["permissions"].items():
            listed = PERMISSIONS[kind] if names == "all" else names
            perms |= {f"{kind}/{n.lower()}" for n in listed}
        out.append(Template(row["template"], frozenset(perms), tuple(row["roles"])))
    return tuple(out)


def all_permissions() -> frozenset[str]:
    return frozenset(permission_actions())


def policy_permissions(policy: AccessPolicy) -> frozenset[str]:
    """`keys/get`, `secrets/list`... of one access-policy entry (lower-cased)."""
    return frozenset(f"{kind}/{name.lower()}" for kind in POLICY_KINDS for name in getattr(policy, kind))


def granted_permissions(roles: Iterable[RoleDefinition]) -> frozenset[str]:
    """The access-policy permissions a set of roles gives at the vault (every mapped action allowed)."""
    blocks = [r.permissions for r in roles]
    return frozenset(
        p
        for p, actions in permission_actions().items()
        if all(any(permits(b, a, data=True) for b in blocks) for a in actions)
    )


def key_vault_roles() -> dict[str, RoleDefinition]:
    """The Key Vault built-in data roles hsmsync knows, by name (a fuller Azure catalog holds other
    services' data roles too: only the Key Vault ones are candidates)."""
    return {
        r.role_name: r
        for r in management_roles()
        if r.role_name.startswith("Key Vault ") and any(p.data_actions for p in r.permissions)
    }


@dataclass(frozen=True, slots=True)
class ProposedRole:
    role_name: str
    why: str
    role_id: str | None = None  # built-in roles: the GUID; a generated custom role: None
    data_actions: tuple[str, ...] = ()  # a generated custom role's actions

    @property
    def builtin(self) -> bool:
        return self.role_id is not None


VIA = "via "  # `accept_loss: {alice: [via <application id>]}`: alice's compound entry may be lost
NO_RBAC_EQUIVALENT = "no Azure RBAC equivalent: lost"


@dataclass(frozen=True, slots=True)
class IdentityMigration:
    object_id: str
    name: str | None  # the principal's key in the manifest, when declared
    had: frozenset[str]
    roles: tuple[ProposedRole, ...]
    granted: frozenset[str]
    accepted_loss: frozenset[str] = frozenset()
    application_id: str | None = None  # a compound identity: the user only through this application

    @property
    def label(self) -> str:
        who = self.name or self.object_id
        return f"{who} via application {self.application_id}" if self.application_id else who

    @property
    def acceptance(self) -> str:
        """The `accept_loss` entry that accepts this identity's loss (`alice: [keys/get]`)."""
        who = self.name or f"<key of principal {self.object_id}>"
        lost = [f"{VIA}{self.application_id}"] if self.application_id else sorted(self.refused_loss)
        return f"{who}: [{', '.join(lost)}]"

    @property
    def equivalent(self) -> frozenset[str]:
        return self.had & self.granted

    @property
    def gained(self) -> frozenset[str]:
        return self.granted - self.had

    @property
    def lost(self) -> frozenset[str]:
        return self.had - self.granted

    @property
    def refused_loss(self) -> frozenset[str]:
        """Lost and not accepted in the manifest: the migration is refused while any remains."""
        return self.lost - self.accepted_loss


@dataclass(frozen=True, slots=True)
class VaultMigration:
    vault: str
    resource_id: str
    identities: tuple[IdentityMigration, ...]

    @property
    def refused(self) -> tuple[IdentityMigration, ...]:
        return tuple(i for i in self.identities if i.refused_loss)


def _custom_role(vault: str, permissions: frozenset[str]) -> ProposedRole:
    actions = sorted({a for p in permissions for a in permission_actions()[p]}, key=str.lower)
    return ProposedRole(
        role_name=f"{vault} vault data access: {', '.join(sorted(permissions))}",
        why="no built-in role gives exactly this: a custom role with these data actions",
        data_actions=tuple(actions),
    )


def propose_roles(vault: str, had: frozenset[str], *, custom_roles: bool = True) -> tuple[ProposedRole, ...]:
    """The roles that give `had` (access-policy permissions) at the vault; see the module text."""
    catalog = key_vault_roles()
    out: list[ProposedRole] = []
    left = set(had)
    for t in templates():
        if t.roles and t.permissions <= had and t.permissions & left:
            for name in t.roles:
                if name not in (r.role_name for r in out):
                    out.append(ProposedRole(name, f"Microsoft's mapping of '{t.name}'", catalog[name].name))
            left -= t.permissions
    exact = sorted(
        ((name, granted_permissions([role])) for name, role in catalog.items()),
        key=lambda item: (-len(item[1]), item[0]),
    )
    for name, gives in exact:
        if gives and gives <= had and gives & left:
            out.append(
                ProposedRole(name, "a built-in role giving exactly part of this access", catalog[name].name)
            )
            left -= gives
    if left and custom_roles:
        out.append(_custom_role(vault, frozenset(left)))
    return tuple(out)


def role_definition_of(role: ProposedRole) -> RoleDefinition:
    """A proposed role as a definition `granted_permissions` can evaluate."""
    if role.role_id is not None:
        return next(r for r in management_roles() if r.name == role.role_id)
    return RoleDefinition(
        name="00000000-0000-0000-0000-000000000000",
        role_name=role.role_name,
        permissions=(Permission(data_actions=role.data_actions),),
    )


def migrate_identity(
    vault: str,
    policy: AccessPolicy,
    name: str | None,
    *,
    accepted: frozenset[str] = frozenset(),
    custom_roles: bool = True,
) -> IdentityMigration:
    had = policy_permissions(policy)
    app = policy.application_id
    if app is not None:  # a compound identity: no role gives it (see the module text)
        whole = had if f"{VIA}{app}" in accepted else frozenset()
        return IdentityMigration(policy.object_id, name, had, (), frozenset(), whole, app)
    roles = propose_roles(vault, had, custom_roles=custom_roles)
    granted = granted_permissions(role_definition_of(r) for r in roles)
    return IdentityMigration(policy.object_id, name, had, roles, granted, accepted & had)


def migrate_vault(
    vault: str,
    resource_id: str,
    policies: Iterable[AccessPolicy],
    names: Mapping[str, str],
    choices: MigrationChoices | None = None,
) -> VaultMigration:
    """Every identity of a vault's access policies (`names`: object id -> principal key)."""
    choices = choices or MigrationChoices()
    accepted, custom_roles = choices.accept_loss, choices.custom_roles
    identities = tuple(
        migrate_identity(
            vault,
            p,
            names.get(p.object_id.lower()),
            accepted=accepted.get(p.object_id.lower(), frozenset()),
            custom_roles=custom_roles,
        )
        for p in sorted(
            policies,
            key=lambda p: (names.get(p.object_id.lower()) or "~", p.object_id, p.application_id or ""),
        )
    )
    return VaultMigration(vault, resource_id, identities)


def slug(text: str) -> str:
    """`Key Vault Secrets User` -> `key-vault-secrets-user` (manifest keys)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def permission_list(perms: Iterable[str]) -> str:
    return ", ".join(sorted(perms)) or "-"


def at_or_above(scope: str, resource_id: str) -> bool:
    """Does an Azure role assignment at `scope` reach `resource_id` (it, or a scope above it)?"""
    s, r = arm_scope_key(scope).rstrip("/"), arm_scope_key(resource_id).rstrip("/")
    return s == "" or s == r or r.startswith(s + "/")


def granted_by_assignments(
    assignments: Iterable[tuple[str, str, str]], roles: Mapping[str, RoleDefinition], resource_id: str
) -> dict[str, frozenset[str]]:
    """Per principal id: the access-policy permissions its role assignments (principal id, role
    definition GUID, scope) give across the vault, through their roles' data actions."""
    held: dict[str, list[RoleDefinition]] = {}
    for principal, role_id, scope in assignments:
        role = roles.get(role_id.lower())
        if role is not None and at_or_above(scope, resource_id):
            held.setdefault(principal.lower(), []).append(role)
    return {p: granted_permissions(rs) for p, rs in held.items()}


def as_assigned(migration: VaultMigration, granted: Mapping[str, frozenset[str]]) -> VaultMigration:
    """The migration with each identity's access as given by actual assignments (the manifest's,
    or live), not by the proposal: what is kept, gained and lost once the vault is switched."""
    identities = tuple(
        # a compound identity keeps nothing: the user's own assignments are not "through the app"
        replace(i, granted=frozenset() if i.application_id else granted.get(i.object_id.lower(), frozenset()))
        for i in migration.identities
    )
    return replace(migration, identities=identities)


def migration_choices(
    spec: VaultMigrationOptions,
    loc: tuple[str | int, ...],
    principals: Mapping[str, PrincipalInfo],
    unknown: Callable[[str], str | None],
    problem: Callable[[tuple[str | int, ...], str], None],
) -> MigrationChoices:
    """`vaults.<v>.migration` compiled: `accept_loss` by object id, each permission `keys/get`-style
    and known (a problem at its place otherwise; `unknown` words an undeclared principal)."""
    accepted: dict[str, frozenset[str]] = {}
    for key, names in spec.accept_loss.items():
        where = (*loc, "accept_loss", key)
        info = principals.get(key)
        if info is None:
            message = unknown(key)
            if message is not None:
                problem(where, message)
            continue
        perms: set[str] = set()
        for i, name in enumerate(names):
            if name.strip().lower().startswith(VIA):
                app = name.strip()[len(VIA) :].strip().lower()
                if not is_guid(app):
                    problem((*where, i), f"'{name}': give 'via <application id>' (a GUID)")
                perms.add(f"{VIA}{app}")
                continue
            kind, _, verb = name.strip().lower().partition("/")
            known, problems = normalize_permissions(kind, [verb]) if kind in POLICY_KINDS else ((), [])
            if kind not in POLICY_KINDS or problems or not known:
                problem(
                    (*where, i),
                    f"'{name}' is not an access-policy permission (keys/..., secrets/..., "
                    "certificates/... or storage/..., e.g. keys/backup) nor 'via <application id>'",
                )
            perms |= {f"{kind}/{p}" for p in known}
        accepted[info.id] = frozenset(perms)
    return MigrationChoices(accept_loss=accepted, custom_roles=spec.custom_roles)
