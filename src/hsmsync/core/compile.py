"""Compile a structurally valid manifest into desired state (GUIDs, scopes, grants), collecting every
semantic problem. ("resolve" is left for principal-name resolution, `hsmsync resolve`.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from hsmsync.core.catalog import (
    DATA_ACTION_PREFIX,
    RoleIndex,
    builtin_data_roles,
    management_role_other_names,
    management_roles,
)
from hsmsync.core.compile_parts import application_problem, arm_blocks, settings_patch, unknown_role
from hsmsync.core.data_actions import is_known_data_action, normalize_data_action
from hsmsync.core.desired import (
    DesiredAssignment,
    DesiredHsm,
    DesiredState,
    DesiredVault,
    MigrationChoices,
    PrincipalInfo,
    assignment_key,
)
from hsmsync.core.errors import ManifestError, Problem
from hsmsync.core.ids import deterministic_name
from hsmsync.core.listed_roles import ListedRoleRef, could_be_listed, listed_role_warning
from hsmsync.core.management_entries import (
    NO_CONDITION,
    Condition,
    condition_conflict,
    condition_of,
    names_only_warning,
    resolve_scope,
)
from hsmsync.core.model import (
    CustomRole,
    LoggingSpec,
    Manifest,
    Permissions,
    Team,
    Vault,
    VaultMigrationOptions,
)
from hsmsync.core.names import close_names, key_spelt_as_another_id
from hsmsync.core.plan import Plane
from hsmsync.core.role_names import DeclaredRole, role_name_conflicts
from hsmsync.core.scopes import arm_scope_key
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DiagnosticSetting,
    Permission,
    RoleDefinition,
)
from hsmsync.core.vault_migration import migration_choices
from hsmsync.core.vault_permissions import MAX_ACCESS_POLICIES, normalize_permissions

Loc = tuple[str | int, ...]


def _declared(names: Iterable[str], reference: str | None = None) -> str:
    """The declared names, for an error about `reference`; names equal to it but for case first."""
    listed = sorted(names)
    close = close_names(reference, listed) if reference is not None else []
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (", ".join(listed) if listed else "(none)") + hint


def custom_role_guid(hsm: str, key: str, pinned: str | None) -> str:
    return pinned or deterministic_name("roledef", hsm, key)


class _Compiler:
    def __init__(self, manifest: Manifest, data_read: Mapping[str, Sequence[int]]) -> None:
        self.m = manifest
        self.data_read = data_read
        self.data_indexes: dict[str, RoleIndex] = {}
        self.problems: list[Problem] = []
        self.warnings: list[str] = []  # accepted, but a reviewer should know (new data actions)
        self.listed: list[ListedRoleRef] = []
        self.principals: dict[str, PrincipalInfo] = {}
        self.custom: dict[str, dict[str, RoleDefinition]] = {h: {} for h in manifest.hsms}
        self.assignments: dict[tuple[str, ...], DesiredAssignment] = {}

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(loc, message))

    def run(self) -> DesiredState:
        self._principals()
        self._custom_roles()
        self._arm_roles()
        vaults = {name: self._vault(name, v) for name, v in self.m.vaults.items()}
        for team_key, team in self.m.teams.items():
            self._team(team_key, team)
        if self.problems:
            raise ManifestError(self.problems)
        hsms = {
            name: DesiredHsm(
                name=name,
                url=h.url.rstrip("/"),
                resource_id=h.resource_id,
                prune=h.prune,
                prune_initial_admins=h.prune_initial_admins,
                custom_roles=tuple(sorted(self.custom[name].values(), key=lambda r: r.name)),
                settings=settings_patch(h.settings),
                logging=self._logging(name, h.logging),
                data_settings=None if h.data_settings is None else dict(sorted(h.data_settings.items())),
            )
            for name, h in self.m.hsms.items()
        }
        assignments = tuple(sorted(self.assignments.values(), key=lambda a: a.key))
        scopes = {arm_scope_key(a.scope): a.scope for a in assignments if a.plane is Plane.MANAGEMENT}
        return DesiredState(
            hsms=hsms,
            assignments=assignments,
            principals={p.id: p for p in self.principals.values()},
            arm_scopes=tuple(scopes[k] for k in sorted(scopes)),
            management_prune=self.m.management.prune,
            prune_arm_roles=self.m.management.prune_roles,
            vaults={k: v for k, v in vaults.items() if v is not None},
            arm_roles=tuple(sorted(self.arm_roles.values(), key=lambda r: r.name)),
            warnings=tuple(self.warnings),
            listed_roles=tuple(self.listed),
        )

    def _principals(self) -> None:
        seen: dict[str, str] = {}
        for key, p in self.m.principals.items():
            if p.id is None:
                # Only users are looked up by UPN; groups and service principals by display name.
                how = "upn" if p.upn and p.type == "User" else "name" if p.name else None
                hint = (
                    f"run `hsmsync resolve` to look it up by {how}"
                    if how
                    else "give `id`, or `name`/`upn` and run `hsmsync resolve`"
                )
                self.problem(("principals", key), f"principal '{key}' has no id; {hint}")
                continue
            if spelt_as_other := key_spelt_as_another_id(key, p.id):
                self.problem(("principals", key), spelt_as_other)
                continue
            if p.id in seen:
                self.problem(
                    ("principals", key, "id"), f"id {p.id} is already used by principal '{seen[p.id]}'"
                )
                continue
            seen[p.id] = key
            self.principals[key] = PrincipalInfo(key=key, id=p.id, type=p.type, display=p.name)

    def _custom_roles(self) -> None:
        builtin_ids = {r.name for r in builtin_data_roles()}
        for key, role in self.m.roles.items():
            loc: Loc = ("roles", key)
            if role.hsm not in self.m.hsms:
                known = _declared(self.m.hsms, role.hsm)
                self.problem((*loc, "hsm"), f"unknown HSM '{role.hsm}'; declared: {known}")
                continue
            if role.id in builtin_ids:
                self.problem((*loc, "id"), f"{role.id} is the GUID of a built-in role")
            taken = self.custom[role.hsm]
            permissions = self._data_blocks(loc, role)
            guid = custom_role_guid(role.hsm, key, role.id)
            if guid in {r.name for r in taken.values()}:
                self.problem((*loc, "id"), f"GUID {guid} is used by another custom role")
            taken[key] = RoleDefinition(
                name=guid,
                role_name=role.name,
                description=role.description,
                role_type="CustomRole",
                permissions=permissions,
            )
        for roles in self.custom.values():  # references resolve per HSM: names must be unique there
            declared = [DeclaredRole(("roles", k), k, r.role_name, r.name) for k, r in roles.items()]
            self.problems += role_name_conflicts(declared, builtin_data_roles(), kind="role")

    def _data_blocks(self, loc: Loc, role: CustomRole) -> tuple[Permission, ...]:
        """The role's permission blocks, kept apart (Azure evaluates each on its own)."""
        if role.permissions is None:
            blocks: list[tuple[Loc, list[str], list[str]]] = [
                ((), role.data_actions or [], role.not_data_actions)
            ]
        else:
            blocks = [
                (("permissions", i), b.data_actions, b.not_data_actions)
                for i, b in enumerate(role.permissions)
            ]
        return tuple(
            Permission(
                data_actions=self._actions((*loc, *at, "data_actions"), granted),
                not_data_actions=self._actions((*loc, *at, "not_data_actions"), excluded),
            )
            for at, granted, excluded in blocks
        )

    def _arm_roles(self) -> None:
        self.arm_roles: dict[str, ArmRoleDefinition] = {}
        guids = {key: role.id or deterministic_name("armrole", key) for key, role in self.m.arm_roles.items()}
        declared = [DeclaredRole(("arm_roles", k), k, r.name, guids[k]) for k, r in self.m.arm_roles.items()]
        conflicts = role_name_conflicts(declared, management_roles(), kind="Azure role")
        self.problems += conflicts
        ambiguous = {p.loc[1] for p in conflicts}
        aliases: dict[str, RoleDefinition] = {}
        for key, role in self.m.arm_roles.items():
            if key in ambiguous:
                continue
            guid = guids[key]
            definition = ArmRoleDefinition(
                name=guid,
                role_name=role.name,
                description=role.description,
                permissions=arm_blocks(role),
                assignable_scopes=tuple(role.assignable_scopes),
            )
            self.arm_roles[key] = definition
            as_role = RoleDefinition(name=guid, role_name=role.name, permissions=definition.permissions)
            aliases[key] = as_role
            aliases[role.name] = as_role
        # A custom role's name wins over another name of a built-in role (RoleIndex keeps the first).
        taken = {a.lower() for a in aliases}
        others = {k: v for k, v in management_role_other_names().items() if k.lower() not in taken}
        self.mgmt_index = RoleIndex(management_roles(), aliases=aliases | others)

    def _logging(self, hsm: str, spec: LoggingSpec | None) -> DiagnosticSetting | None:
        if spec is None:
            return None
        if not (spec.storage_account or spec.workspace or spec.event_hub):
            self.problem(
                ("hsms", hsm, "logging"),
                "logging needs a destination: storage_account, workspace or event_hub",
            )
        return DiagnosticSetting(
            name=spec.name,
            categories=tuple(sorted(spec.categories)),
            storage_account_id=spec.storage_account,
            workspace_id=spec.workspace,
            event_hub_authorization_rule_id=spec.event_hub.authorization_rule_id if spec.event_hub else None,
            event_hub_name=spec.event_hub.name if spec.event_hub else None,
        )

    def _vault(self, name: str, vault: Vault) -> DesiredVault | None:
        loc: Loc = ("vaults", name)
        if vault.rbac and vault.access_policies:
            self.problem(
                (*loc, "access_policies"),
                "a vault with rbac: true uses Azure RBAC; access policies are ignored by the service",
            )
            return None
        if len(vault.access_policies) > MAX_ACCESS_POLICIES:
            self.problem(
                (*loc, "access_policies"),
                f"{len(vault.access_policies)} access policies; a vault holds at most {MAX_ACCESS_POLICIES}",
            )
        policies: list[AccessPolicy] = []
        for key, listed in vault.access_policies.items():
            info = self.principals.get(key)
            if info is None and key in self.m.principals:
                continue  # declared without an id: reported once, at the principal
            if info is None:
                self.problem(
                    (*loc, "access_policies", key),
                    f"undeclared principal '{key}'; declared: {_declared(self.m.principals, key)}",
                )
                continue
            entries = (
                [(listed, (*loc, "access_policies", key))]
                if isinstance(listed, Permissions)
                else [(perms, (*loc, "access_policies", key, i)) for i, perms in enumerate(listed)]
            )
            seen: set[str | None] = set()
            for perms, where in entries:
                if perms.application in seen:
                    through = (
                        f"through application {perms.application}" if perms.application else "of its own"
                    )
                    self.problem(where, f"'{key}' has two access policies {through}; merge them into one")
                    continue
                seen.add(perms.application)
                if (wrong := application_problem(key, info.id, perms.application)) is not None:
                    self.problem((*where, "application"), wrong)
                    continue
                policy = self._policy(info.id, perms, where)
                if policy is not None:
                    policies.append(policy)
        return DesiredVault(
            name=name,
            url=vault.url.rstrip("/"),
            resource_id=vault.resource_id,
            rbac=vault.rbac,
            prune=vault.prune,
            access_policies=tuple(sorted(policies, key=lambda p: (p.object_id, p.application_id or ""))),
            migration=self._migration(loc, vault.migration),
        )

    def _policy(self, object_id: str, perms: Permissions, where: Loc) -> AccessPolicy | None:
        """One access-policy entry (a compound identity's when `perms.application` is set)."""
        lists: dict[str, tuple[str, ...]] = {}
        for kind in ("keys", "secrets", "certificates", "storage"):
            lists[kind], problems = normalize_permissions(kind, getattr(perms, kind))
            for i, message in problems:
                self.problem((*where, kind, i), message)
        if not any(lists.values()):
            self.problem(where, "an access policy needs at least one permission")
            return None
        return AccessPolicy(object_id=object_id, application_id=perms.application, **lists)

    def _migration(self, loc: Loc, spec: VaultMigrationOptions | None) -> MigrationChoices:
        if spec is None:
            return MigrationChoices()

        def unknown(key: str) -> str | None:
            """None: declared without an id (reported once, at the principal)."""
            if key in self.m.principals:
                return None
            return f"undeclared principal '{key}'; declared: {_declared(self.m.principals, key)}"

        return migration_choices(spec, (*loc, "migration"), self.principals, unknown, self.problem)

    def _actions(self, loc: Loc, actions: list[str]) -> tuple[str, ...]:
        out: list[str] = []
        for i, action in enumerate(actions):
            normalized, error = normalize_data_action(action, open_vocabulary=True)
            if not error and not is_known_data_action(normalized):
                where = ".".join(str(x) for x in (*loc, i))
                self.warnings.append(
                    f"{where}: data action '{normalized}' is not in hsmsync's catalog; accepted because "
                    "it follows the service's pattern (a new or preview action); --strict refuses it"
                )
            if error:
                self.problem((*loc, i), error)
            elif normalized in out:
                self.problem((*loc, i), f"'{action}' is listed twice")
            else:
                out.append(normalized)
        return tuple(sorted(out, key=str.lower))

    def _team(self, team_key: str, team: Team) -> None:
        members: list[PrincipalInfo] = []
        for i, member in enumerate(team.members):
            info = self.principals.get(member)
            if info is None and member in self.m.principals:
                continue  # declared without an id: reported once, at the principal
            if info is None:
                self.problem(
                    ("teams", team_key, "members", i),
                    f"undeclared principal '{member}'; declared: {_declared(self.m.principals, member)}",
                )
            else:
                members.append(info)
        seen: set[tuple[str, ...]] = set()
        self._team_data(team_key, team, members, seen)
        self._team_management(team_key, team, members, seen)

    def _team_data(
        self, team_key: str, team: Team, members: list[PrincipalInfo], seen: set[tuple[str, ...]]
    ) -> None:
        source = f"team {team_key}"
        read = self.data_read.get(team_key)  # a narrowed read: the document's index of each entry
        for i, d in enumerate(team.data):
            loc: Loc = ("teams", team_key, "data", read[i] if read is not None else i)
            entry = ("data", d.hsm, d.scope.lower(), d.role.lower())
            if entry in seen:
                self.problem(loc, f"duplicate assignment of '{d.role}' at '{d.scope}' on '{d.hsm}'")
                continue
            seen.add(entry)
            if d.hsm not in self.m.hsms:
                self.problem(
                    (*loc, "hsm"), f"unknown HSM '{d.hsm}'; declared: {_declared(self.m.hsms, d.hsm)}"
                )
                continue
            role = self._data_role((*loc, "role"), d.hsm, d.role)
            if role is not None:
                for p in members:
                    self._add(Plane.DATA, d.hsm, d.scope, role, p, source, loc, d.expires)
            elif (pending := self._listed_role(loc, d.hsm, d.role, d.scope, members, source)) is not None:
                self.listed.append(pending)
                self.warnings.append(listed_role_warning(pending))

    def _team_management(
        self, team_key: str, team: Team, members: list[PrincipalInfo], seen: set[tuple[str, ...]]
    ) -> None:
        source = f"team {team_key}"
        for i, a in enumerate(team.management):
            loc: Loc = ("teams", team_key, "management", i)
            try:
                scope = resolve_scope(a.scope, self.m.vaults)
            except ValueError as exc:
                self.problem((*loc, "scope"), str(exc))
                continue
            entry = ("mgmt", "arm", arm_scope_key(scope), a.role.lower())
            if entry in seen:
                self.problem(loc, f"duplicate assignment of '{a.role}' at '{a.scope}'")
                continue
            seen.add(entry)
            mrole = self.mgmt_index.find(a.role)
            if mrole is None:
                self.problem((*loc, "role"), unknown_role(a.role, self.mgmt_index))
                continue
            if (warning := names_only_warning(".".join(str(x) for x in loc), mrole)) is not None:
                self.warnings.append(warning)
            for p in members:
                self._add(Plane.MANAGEMENT, "arm", scope, mrole, p, source, loc, a.expires, condition_of(a))

    def _listed_role(
        self, loc: Loc, hsm: str, reference: str, scope: str, members: list[PrincipalInfo], source: str
    ) -> ListedRoleRef | None:
        """An unknown role that is no typo of a known one: kept for the HSM's own list to say."""
        index = self._data_index(hsm)
        if reference in self.m.roles or not could_be_listed(reference, index):
            return None
        return ListedRoleRef(hsm, reference, scope, tuple(members), source, loc)

    def _data_index(self, hsm: str) -> RoleIndex:
        """The roles an entry on `hsm` can name; one index per HSM (built once: the custom roles are
        compiled before any team, and an index per entry was most of compiling a large fleet)."""
        index = self.data_indexes.get(hsm)
        if index is None:
            index = self.data_indexes[hsm] = RoleIndex(
                [*builtin_data_roles(), *self.custom.get(hsm, {}).values()]
            )
        return index

    def _data_role(self, loc: Loc, hsm: str, reference: str) -> RoleDefinition | None:
        custom = self.custom.get(hsm, {})
        if reference in custom:
            return custom[reference]
        index = self._data_index(hsm)
        role = index.find(reference)
        if role is None and reference not in self.m.roles and could_be_listed(reference, index):
            return None  # perhaps a built-in role only the HSM lists: see _listed_role
        if role is None:
            other = [k for k, r in self.m.roles.items() if k == reference and r.hsm != hsm]
            if other:
                self.problem(
                    loc,
                    f"custom role '{reference}' belongs to HSM '{self.m.roles[reference].hsm}', not '{hsm}'",
                )
            else:
                self.problem(loc, unknown_role(reference, index, extra=list(custom)))
        return role

    def _add(
        self,
        plane: Plane,
        target: str,
        scope: str,
        role: RoleDefinition,
        p: PrincipalInfo,
        source: str,
        loc: Loc,
        expires: datetime | None = None,
        condition: Condition = NO_CONDITION,
    ) -> None:
        text, version = condition
        existing = self.assignments.get(assignment_key(plane, target, scope, role.name, p.id))
        if existing is not None and existing.condition != text:
            # Azure holds one assignment per role, principal and scope: it has one condition.
            first = " ".join(str(x) for x in existing.loc[:2])
            self.problem(loc, condition_conflict(role.role_name, scope, p.key, first))
            return
        if existing is not None:  # the same grant through another team: one assignment, both reasons
            # ... desired as long as any team wants it: without an expiry if one team has none.
            later = None if existing.expires is None or expires is None else max(existing.expires, expires)
            a = replace(existing, sources=(*existing.sources, source), expires=later)
        else:
            a = DesiredAssignment(
                plane,
                target,
                scope,
                role.name,
                role.role_name,
                p,
                (source,),
                loc,
                expires=expires,
                condition=text,
                condition_version=version,
            )
        self.assignments[a.key] = a


def compile_manifest(
    manifest: Manifest, data_read: Mapping[str, Sequence[int]] | None = None
) -> DesiredState:
    """Manifest -> desired state; raises ManifestError listing every semantic problem. `data_read`:
    for a manifest read narrowed to some HSMs, per team the document's index of each `data` entry
    kept (so every location still names the document's line)."""
    return _Compiler(manifest, data_read or {}).run()


__all__ = ["DATA_ACTION_PREFIX", "custom_role_guid", "compile_manifest"]
