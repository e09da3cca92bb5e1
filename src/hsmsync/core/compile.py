"""Compile a structurally valid manifest into desired state (GUIDs, scopes, grants), collecting every
semantic problem. ("resolve" is left for principal-name resolution, `hsmsync resolve`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hsmsync.core.catalog import (
    DATA_ACTION_PREFIX,
    RoleIndex,
    builtin_data_roles,
    management_role_other_names,
    management_roles,
)
from hsmsync.core.compile_context import Loc, declared_names
from hsmsync.core.compile_parts import arm_blocks, settings_patch
from hsmsync.core.compile_teams import TeamCompiler
from hsmsync.core.compile_vaults import VaultCompiler
from hsmsync.core.data_actions import is_known_data_action, normalize_data_action
from hsmsync.core.desired import DesiredHsm, DesiredState, PrincipalInfo
from hsmsync.core.errors import ManifestError
from hsmsync.core.ids import deterministic_name
from hsmsync.core.model import Manifest
from hsmsync.core.model_hsm import CustomRole, LoggingSpec
from hsmsync.core.names import key_spelt_as_another_id
from hsmsync.core.plan import Plane
from hsmsync.core.role_names import DeclaredRole, role_name_conflicts
from hsmsync.core.scopes import arm_scope_key
from hsmsync.core.state import ArmRoleDefinition, DiagnosticSetting, Permission, RoleDefinition


def custom_role_guid(hsm: str, key: str, pinned: str | None) -> str:
    return pinned or deterministic_name("roledef", hsm, key)


class _Compiler(VaultCompiler, TeamCompiler):
    """The whole compile: principals and custom roles first (teams and vaults refer to them), then
    vaults (compile_vaults.py) and teams (compile_teams.py), then the desired state."""

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
                known = declared_names(self.m.hsms, role.hsm)
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


def compile_manifest(
    manifest: Manifest, data_read: Mapping[str, Sequence[int]] | None = None
) -> DesiredState:
    """Manifest -> desired state; raises ManifestError listing every semantic problem. `data_read`:
    for a manifest read narrowed to some HSMs, per team the document's index of each `data` entry
    kept (so every location still names the document's line)."""
    return _Compiler(manifest, data_read or {}).run()


__all__ = ["DATA_ACTION_PREFIX", "custom_role_guid", "compile_manifest"]
