"""Resolve a structurally valid manifest to desired state, collecting every semantic problem."""

from __future__ import annotations

from collections.abc import Iterable

from hsmsync.core.catalog import DATA_ACTION_PREFIX, RoleIndex, builtin_data_roles, management_roles
from hsmsync.core.data_actions import normalize_data_action
from hsmsync.core.desired import DesiredAssignment, DesiredHsm, DesiredState, PrincipalInfo
from hsmsync.core.errors import ManifestError, Problem
from hsmsync.core.ids import deterministic_name
from hsmsync.core.model import Manifest, Team
from hsmsync.core.plan import Plane
from hsmsync.core.scopes import arm_scope_key
from hsmsync.core.state import RoleDefinition

Loc = tuple[str | int, ...]


def _declared(names: Iterable[str]) -> str:
    listed = sorted(names)
    return ", ".join(listed) if listed else "(none)"


def custom_role_guid(hsm: str, key: str, pinned: str | None) -> str:
    return pinned or deterministic_name("roledef", hsm, key)


class _Resolver:
    def __init__(self, manifest: Manifest) -> None:
        self.m = manifest
        self.problems: list[Problem] = []
        self.principals: dict[str, PrincipalInfo] = {}
        self.custom: dict[str, dict[str, RoleDefinition]] = {h: {} for h in manifest.hsms}
        self.assignments: dict[tuple[str, ...], DesiredAssignment] = {}

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(loc, message))

    def run(self) -> DesiredState:
        self._principals()
        self._custom_roles()
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
        )

    def _principals(self) -> None:
        seen: dict[str, str] = {}
        for key, p in self.m.principals.items():
            if p.id in seen:
                self.problem(
                    ("principals", key, "id"), f"id {p.id} is already used by principal '{seen[p.id]}'"
                )
                continue
            seen[p.id] = key
            self.principals[key] = PrincipalInfo(key=key, id=p.id, type=p.type, display=p.name)

    def _custom_roles(self) -> None:
        builtin_names = {r.role_name.lower() for r in builtin_data_roles()}
        builtin_ids = {r.name for r in builtin_data_roles()}
        for key, role in self.m.roles.items():
            loc: Loc = ("roles", key)
            if role.hsm not in self.m.hsms:
                self.problem((*loc, "hsm"), f"unknown HSM '{role.hsm}'; declared: {_declared(self.m.hsms)}")
                continue
            if role.name.lower() in builtin_names:
                self.problem((*loc, "name"), f"'{role.name}' is the name of a built-in role")
            if role.id in builtin_ids:
                self.problem((*loc, "id"), f"{role.id} is the GUID of a built-in role")
            taken = self.custom[role.hsm]
            if any(r.role_name.lower() == role.name.lower() for r in taken.values()):
                self.problem((*loc, "name"), f"another custom role on '{role.hsm}' is named '{role.name}'")
            data_actions = self._actions((*loc, "data_actions"), role.data_actions)
            not_data_actions = self._actions((*loc, "not_data_actions"), role.not_data_actions)
            guid = custom_role_guid(role.hsm, key, role.id)
            if guid in {r.name for r in taken.values()}:
                self.problem((*loc, "id"), f"GUID {guid} is used by another custom role")
            taken[key] = RoleDefinition(
                name=guid,
                role_name=role.name,
                description=role.description,
                role_type="CustomRole",
                data_actions=data_actions,
                not_data_actions=not_data_actions,
            )

    def _actions(self, loc: Loc, actions: list[str]) -> tuple[str, ...]:
        out: list[str] = []
        for i, action in enumerate(actions):
            normalized, error = normalize_data_action(action)
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
            if info is None:
                self.problem(
                    ("teams", team_key, "members", i),
                    f"undeclared principal '{member}'; declared: {_declared(self.m.principals)}",
                )
            else:
                members.append(info)
        source = f"team {team_key}"
        seen: set[tuple[str, ...]] = set()
        for i, d in enumerate(team.data):
            loc: Loc = ("teams", team_key, "data", i)
            entry = ("data", d.hsm, d.scope.lower(), d.role.lower())
            if entry in seen:
                self.problem(loc, f"duplicate assignment of '{d.role}' at '{d.scope}' on '{d.hsm}'")
                continue
            seen.add(entry)
            if d.hsm not in self.m.hsms:
                self.problem((*loc, "hsm"), f"unknown HSM '{d.hsm}'; declared: {_declared(self.m.hsms)}")
                continue
            role = self._data_role((*loc, "role"), d.hsm, d.role)
            if role is not None:
                for p in members:
                    self._add(Plane.DATA, d.hsm, d.scope, role, p, source)
        mgmt_index = RoleIndex(management_roles())
        for i, a in enumerate(team.management):
            loc = ("teams", team_key, "management", i)
            entry = ("mgmt", "arm", arm_scope_key(a.scope), a.role.lower())
            if entry in seen:
                self.problem(loc, f"duplicate assignment of '{a.role}' at '{a.scope}'")
                continue
            seen.add(entry)
            mrole = mgmt_index.resolve(a.role)
            if mrole is None:
                self.problem((*loc, "role"), _unknown_role(a.role, mgmt_index))
                continue
            for p in members:
                self._add(Plane.MANAGEMENT, "arm", a.scope, mrole, p, source)

    def _data_role(self, loc: Loc, hsm: str, reference: str) -> RoleDefinition | None:
        custom = self.custom.get(hsm, {})
        if reference in custom:
            return custom[reference]
        index = RoleIndex([*builtin_data_roles(), *custom.values()])
        role = index.resolve(reference)
        if role is None:
            other = [k for k, r in self.m.roles.items() if k == reference and r.hsm != hsm]
            if other:
                self.problem(
                    loc,
                    f"custom role '{reference}' belongs to HSM '{self.m.roles[reference].hsm}', not '{hsm}'",
                )
            else:
                self.problem(loc, _unknown_role(reference, index, extra=list(custom)))
        return role

    def _add(
        self, plane: Plane, target: str, scope: str, role: RoleDefinition, p: PrincipalInfo, source: str
    ) -> None:
        a = DesiredAssignment(plane, target, scope, role.name, role.role_name, p, (source,))
        existing = self.assignments.get(a.key)
        if existing is not None:
            a = DesiredAssignment(
                plane, target, existing.scope, role.name, role.role_name, p, (*existing.sources, source)
            )
        self.assignments[a.key] = a


def _unknown_role(reference: str, index: RoleIndex, extra: list[str] | None = None) -> str:
    close = index.suggestions(reference)
    for key in extra or []:
        if key not in close and reference.lower() in key.lower():
            close.append(key)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown role '{reference}'{hint}"


def resolve_manifest(manifest: Manifest) -> DesiredState:
    """Manifest -> desired state; raises ManifestError listing every semantic problem."""
    return _Resolver(manifest).run()


__all__ = ["DATA_ACTION_PREFIX", "custom_role_guid", "resolve_manifest"]
