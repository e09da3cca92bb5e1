"""Effective access: grants followed through group membership, PIM eligibility and escalation.

A grant to a group reaches every transitive member, with the path (member -> group -> [group ->]
role -> scope). What Azure honours decides each path's status:
- the Managed HSM data plane honours a user's groups (its token's `groups` claim) and not a
  service principal's group membership (Managed HSM role-management doc, note; the same rule as
  `guard.Caller`); Azure RBAC honours both;
- a PIM-eligible membership grants nothing until it is activated ("can once activated");
- whoever holds `roleAssignments/write` at a scope can assign itself any role there, so it can
  *obtain* every action at that scope (Managed HSM access-control doc: Crypto Officer and Policy
  Administrator "can self-assign the Managed HSM Administrator role").

`abilities` is the one question the access matrix asks: principal P at scope S on an HSM, held vs
once activated vs obtainable, each with its paths. Keep its signature stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from hsmsync.core.capabilities import ASSIGN_ROLES, permits, short_actions
from hsmsync.core.data_actions import data_action_vocabulary
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.directory import Directory, Hop, Member
from hsmsync.core.grants import Grant, grants_from_live
from hsmsync.core.plan import Plane
from hsmsync.core.scopes import data_scope_covers
from hsmsync.core.state import LiveState


class Status(StrEnum):
    HOLDS = "holds"
    ONCE_ACTIVATED = "can once activated"  # through a PIM-eligible membership
    NOT_HONOURED = "not honoured"  # a service principal's group membership, on the HSM data plane


@dataclass(frozen=True, slots=True)
class EffectiveGrant:
    """A grant as it reaches one principal: assigned to it, or to a group it is (transitively) in."""

    grant: Grant
    principal_id: str
    principal: str  # manifest key, display name, or object id
    principal_type: str
    hops: tuple[Hop, ...] = ()  # empty: the grant is assigned to the principal itself

    @property
    def status(self) -> Status:
        if self.hops and self.grant.plane is Plane.DATA and self.principal_type == "ServicePrincipal":
            return Status.NOT_HONOURED
        if any(h.eligible for h in self.hops):
            return Status.ONCE_ACTIVATED
        return Status.HOLDS

    @property
    def standing(self) -> bool:
        """Always in force: no PIM-eligible hop and no hop with an end."""
        return all(not h.eligible and h.end is None for h in self.hops)

    def steps(self) -> tuple[str, ...]:
        """`alice`, `group ops [member]`, `group security [eligible (PIM)]`, `Administrator at / on hsm`."""
        where = "arm" if self.grant.plane is Plane.MANAGEMENT else self.grant.target
        role = f"{self.grant.role_name} at {self.grant.scope} on {where}"
        return (self.principal, *(h.describe() for h in self.hops), role)

    def path(self) -> str:
        return " -> ".join(self.steps())


def expand(
    grants: Iterable[Grant], directory: Directory | None, names: dict[str, str] | None = None
) -> tuple[EffectiveGrant, ...]:
    """Every grant as it reaches its assignee and, for a group, each transitive member.

    `names` (object id -> manifest key) names principals the manifest declares."""
    out: list[EffectiveGrant] = []
    for g in grants:
        out.append(EffectiveGrant(g, g.principal_id, g.who, g.principal_type))
        out.extend(
            EffectiveGrant(g, m.id, m.name, m.type, m.hops)
            for m in members_of(g.principal_id, directory, names)
        )
    return tuple(out)


def members_of(
    principal_id: str, directory: Directory | None, names: Mapping[str, str] | None
) -> Iterator[Member]:
    """The transitive members of `principal_id` when the directory knows it as a group (or does
    not know it: an unlisted object may still have members listed), each named by the manifest's
    key when `names` (object id -> key) has one. What a grant to a group reaches; the one
    expansion behind role assignments and Key Vault access policies alike."""
    if directory is None or directory.type_of(principal_id) not in ("Group", "Unknown"):
        return
    named = names or {}
    for m in directory.members(principal_id):
        yield replace(m, name=named.get(m.id) or m.name)


@dataclass(frozen=True, slots=True)
class Ability:
    """One data action (short form, e.g. `keys/sign/action`) and the paths that give it."""

    action: str
    paths: tuple[EffectiveGrant, ...]


@dataclass(frozen=True, slots=True)
class Abilities:
    """What one principal can do at one scope of one HSM, and how."""

    principal_id: str
    hsm: str
    scope: str
    held: tuple[Ability, ...]  # in force now
    once_activated: tuple[Ability, ...]  # after activating a PIM-eligible membership
    obtainable: tuple[Ability, ...]  # by assigning itself a role (roleAssignments/write at a covering scope)
    not_honoured: tuple[Ability, ...] = ()  # through group membership Azure ignores here


def _reaching(effective: Iterable[EffectiveGrant], hsm: str, scope: str) -> list[EffectiveGrant]:
    return [
        e
        for e in effective
        if e.grant.plane is Plane.DATA and e.grant.target == hsm and data_scope_covers(e.grant.scope, scope)
    ]


def _by_action(paths: Sequence[EffectiveGrant], actions: Iterable[str] | None = None) -> tuple[Ability, ...]:
    found: dict[str, list[EffectiveGrant]] = {}
    for e in paths:
        for a in actions if actions is not None else e.grant.short_actions:
            found.setdefault(a, []).append(e)
    return tuple(Ability(a, tuple(_ordered(found[a]))) for a in sorted(found))


def _ordered(paths: Iterable[EffectiveGrant]) -> list[EffectiveGrant]:
    return sorted(set(paths), key=lambda e: (len(e.hops), e.path()))


def every_data_action() -> frozenset[str]:
    """Every known data action, short and lower-cased (`keys/sign/action`)."""
    return short_actions(data_action_vocabulary().values())


def abilities(effective: Sequence[EffectiveGrant], principal_id: str, hsm: str, scope: str) -> Abilities:
    """Principal `principal_id`'s abilities at `scope` ('/', '/keys', '/keys/<k>') on `hsm`:
    held, once activated (PIM), obtainable (escalation), each action with its paths.

    `effective` is `expand(grants, directory)`; an action held is not listed as obtainable too."""
    wanted = principal_id.lower()
    mine = [e for e in _reaching(effective, hsm, scope) if e.principal_id.lower() == wanted]
    held = [e for e in mine if e.status is Status.HOLDS]
    eligible = [e for e in mine if e.status is Status.ONCE_ACTIVATED]
    ignored = [e for e in mine if e.status is Status.NOT_HONOURED]
    held_actions = {a for e in held for a in e.grant.short_actions}
    # An eligible writer can obtain too, once activated: its path shows the eligible hop.
    writers = [e for e in (*held, *eligible) if e.grant.short_actions & ASSIGN_ROLES]
    obtain = _by_action(writers, sorted(every_data_action() - held_actions)) if writers else ()
    return Abilities(
        principal_id=wanted,
        hsm=hsm,
        scope=scope,
        held=_by_action(held),
        once_activated=tuple(a for a in _by_action(eligible) if a.action not in held_actions),
        obtainable=obtain,
        not_honoured=tuple(a for a in _by_action(ignored) if a.action not in held_actions),
    )


def obtainers(effective: Iterable[EffectiveGrant], hsm: str, scope: str | None) -> list[EffectiveGrant]:
    """Paths to holding `roleAssignments/write` at a scope covering `scope` (None: any scope),
    in force or once activated: each can obtain every data action there."""
    return [
        e
        for e in effective
        if e.grant.plane is Plane.DATA
        and e.grant.target == hsm
        and e.status is not Status.NOT_HONOURED
        and e.grant.short_actions & ASSIGN_ROLES
        and (scope is None or data_scope_covers(e.grant.scope, scope))
    ]


def member_grants(effective: Iterable[EffectiveGrant]) -> tuple[Grant, ...]:
    """Grants as the members of a group hold them (in force only), each labelled with its path:
    what the access delta compares, so a member gaining a role through a group is named."""
    return tuple(
        replace(
            e.grant,
            principal_id=e.principal_id,
            principal=f"{e.principal} (through {' -> '.join(h.group for h in e.hops)})",
            principal_type=e.principal_type,
        )
        for e in effective
        if e.hops and e.status is Status.HOLDS
    )


def directory_of(live: LiveState | None) -> Directory | None:
    """The directory behind live state's assignments (the state file's, or Graph's), when read."""
    return Directory.of(live.directory) if live is not None and live.directory is not None else None


def manifest_names(principals: Mapping[str, PrincipalInfo]) -> dict[str, str]:
    """Object id -> the manifest's key for it: how `expand` names the members the manifest declares."""
    return {object_id: info.key for object_id, info in principals.items()}


def live_grants_with_members(live: LiveState, principals: Mapping[str, PrincipalInfo]) -> tuple[Grant, ...]:
    """`grants_from_live` plus the grants group members hold through them (the state's directory)."""
    grants = grants_from_live(live, principals)
    directory = directory_of(live)
    if directory is None:
        return grants
    return (*grants, *member_grants(expand(grants, directory, manifest_names(principals))))


VAULT_WRITE = "Microsoft.KeyVault/vaults/write"


def can_write_vault(g: Grant) -> bool:
    """Does a management-plane grant allow writing a Key Vault (and so its access policies)?"""
    return g.plane is Plane.MANAGEMENT and permits(g.permissions, VAULT_WRITE, data=False)


def arm_covers(scope: str, resource_id: str) -> bool:
    rid, at = resource_id.rstrip("/").lower(), scope.rstrip("/").lower()
    return rid == at or rid.startswith(at + "/")


def vault_writers(effective: Iterable[EffectiveGrant], resource_id: str) -> list[EffectiveGrant]:
    """Paths to writing the vault `resource_id` in Azure RBAC: on a vault that uses access
    policies, each can grant itself data access (Key Vault access-policy docs)."""
    return [e for e in effective if arm_covers(e.grant.scope, resource_id) and can_write_vault(e.grant)]


__all__ = [
    "Abilities",
    "Ability",
    "EffectiveGrant",
    "Status",
    "abilities",
    "VAULT_WRITE",
    "arm_covers",
    "can_write_vault",
    "directory_of",
    "every_data_action",
    "expand",
    "live_grants_with_members",
    "manifest_names",
    "member_grants",
    "members_of",
    "obtainers",
    "vault_writers",
]
