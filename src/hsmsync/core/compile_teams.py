"""Compile the manifest's teams into assignments: data-plane entries per HSM (built-in, custom or
HSM-listed roles) and management entries at Azure scopes, one assignment per role, scope and member."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from hsmsync.core.catalog import RoleIndex, builtin_data_roles
from hsmsync.core.compile_context import CompileContext, Loc, declared_names
from hsmsync.core.compile_parts import unknown_role
from hsmsync.core.desired import DesiredAssignment, PrincipalInfo, assignment_key
from hsmsync.core.listed_roles import ListedRoleRef, could_be_listed, listed_role_warning
from hsmsync.core.management_entries import (
    NO_CONDITION,
    Condition,
    condition_conflict,
    condition_of,
    names_only_warning,
    resolve_scope,
)
from hsmsync.core.model import Team
from hsmsync.core.plan import Plane
from hsmsync.core.scopes import arm_scope_key
from hsmsync.core.state import RoleDefinition


class TeamCompiler(CompileContext):
    def _team(self, team_key: str, team: Team) -> None:
        members: list[PrincipalInfo] = []
        for i, member in enumerate(team.members):
            info = self.principals.get(member)
            if info is None and member in self.m.principals:
                continue  # declared without an id: reported once, at the principal
            if info is None:
                self.problem(
                    ("teams", team_key, "members", i),
                    f"undeclared principal '{member}'; declared: {declared_names(self.m.principals, member)}",
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
                    (*loc, "hsm"), f"unknown HSM '{d.hsm}'; declared: {declared_names(self.m.hsms, d.hsm)}"
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
