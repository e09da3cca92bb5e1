"""Applied means in effect: what to read back after an apply, and whether a read shows a change.

Azure answers 201 before a role assignment takes effect, and a Managed HSM with a second region
replicates role assignments and definitions to it with up to about six minutes of lag, while
requests may land in either region. So after writing, hsmsync reads back what it wrote and counts
a change as in effect only when every region that has answered for that HSM shows it.

Azure RBAC (management-plane) role assignments and Key Vault access policies are read back too:
ARM also answers a role-assignment PUT before a listing shows it. An Azure role assignment is read
by listing its scope (`atScope()`, as discovery does; one read per scope), an access-policy entry
by reading its vault (one read per vault). ARM names no region, so these reads answer for one
view, `ARM_VIEW`.

This module is the pure part: which changes are checked (role assignments on both planes, HSM role
definitions and vault access-policy entries that were applied or found already so), which reads
show them (one per HSM and scope, ARM scope or vault, however many changes share it), and how a
read is compared with a change. The polling loop (when to read again, for how long) is the
applier's; the reads themselves are the backend's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from hsmsync.core.plan import Action, Change, Kind, Plane, RoleAssignmentSubject
from hsmsync.core.results import ChangeResult, ChangeStatus
from hsmsync.core.roledefs import diff_role_definition
from hsmsync.core.scopes import arm_scope_key
from hsmsync.core.state import AccessPolicy, ArmRoleAssignment, DataRoleAssignment, RoleDefinition
from hsmsync.core.target import TargetKind
from hsmsync.core.vault_permissions import PERMISSIONS

# A listing at '/' returns the assignments at '/' and at '/keys' (ASSUMPTIONS.md 1): one read for both.
_HSM_WIDE = ("/", "/keys")


# What answers the management-plane reads: Azure Resource Manager, which names no region.
ARM_VIEW = "Azure Resource Manager"


class ReadKind(StrEnum):
    ASSIGNMENTS = "assignments"  # an HSM's role assignments at a scope
    DEFINITIONS = "definitions"  # an HSM's role definitions
    ARM_ASSIGNMENTS = "arm assignments"  # the Azure role assignments at an ARM scope (atScope())
    ACCESS_POLICIES = "access policies"  # a Key Vault's access policies (the vault's GET)

    @property
    def management(self) -> bool:
        return self in (ReadKind.ARM_ASSIGNMENTS, ReadKind.ACCESS_POLICIES)


@dataclass(frozen=True, slots=True, order=True)
class ReadBack:
    """One read that can show several changes: an HSM's assignments listed at a scope, or its
    role definitions; the Azure role assignments at an ARM scope; a vault's access policies."""

    target: str  # the HSM's or vault's manifest name; '' for an ARM scope
    kind: ReadKind
    # '/' (it lists '/' and '/keys' together) or '/keys/<name>'; '/' for definitions; the ARM
    # scope as the change names it; the vault's resource id
    scope: str


@dataclass(frozen=True, slots=True)
class Observation:
    """What one region answered to one read: the items, or why it could not be read."""

    read: ReadBack
    region: str
    assignments: tuple[DataRoleAssignment, ...] = ()
    definitions: tuple[RoleDefinition, ...] = ()
    arm_assignments: tuple[ArmRoleAssignment, ...] = ()
    access_policies: tuple[AccessPolicy, ...] = ()
    error: str | None = None  # the read failed, e.g. 403 in a region that lacks the reader's right
    denied: bool = False  # the failure was a denial (403): the reading identity lacks the right


def is_checked(result: ChangeResult) -> bool:
    """Changes whose effect hsmsync reads back, written or found already so: an HSM's role
    assignments and definitions, Azure role assignments (at ARM scopes and at vaults), and vault
    access-policy entries. (HSM and vault settings, diagnostic settings and custom Azure roles
    are not read back.)"""
    change = result.change
    if result.status not in (ChangeStatus.APPLIED, ChangeStatus.ALREADY_DONE):
        return False
    if change.kind is Kind.ACCESS_POLICY:
        return True
    if change.plane is Plane.MANAGEMENT:
        return change.kind is Kind.ROLE_ASSIGNMENT
    return change.target.kind is TargetKind.HSM and change.kind in (
        Kind.ROLE_ASSIGNMENT,
        Kind.ROLE_DEFINITION,
    )


def read_for(change: Change) -> ReadBack:
    if change.kind is Kind.ACCESS_POLICY:
        return ReadBack(change.target.name, ReadKind.ACCESS_POLICIES, change.scope)
    if change.plane is Plane.MANAGEMENT:  # ARM is one service: an assignment at a vault too
        return ReadBack("", ReadKind.ARM_ASSIGNMENTS, change.scope)
    if change.kind is Kind.ROLE_DEFINITION:
        return ReadBack(change.target.name, ReadKind.DEFINITIONS, "/")
    scope = change.scope.lower()
    return ReadBack(change.target.name, ReadKind.ASSIGNMENTS, "/" if scope in _HSM_WIDE else scope)


def _same_scope(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _arm_shows(change: Change, listed: Sequence[ArmRoleAssignment]) -> bool:
    """An Azure role assignment by its natural key (scope, role, principal) and, created or
    updated, with the condition the change sets (the planner compares conditions as text too)."""
    scope = arm_scope_key(change.scope)
    at_scope = [a for a in listed if arm_scope_key(a.scope) == scope]
    if change.action is Action.DELETE:
        return not any(a.name.lower() == change.name.lower() for a in at_scope)
    subject = change.subject
    assert isinstance(subject, RoleAssignmentSubject)
    role, principal = change.role_id.lower(), (change.principal_id or "").lower()
    return any(
        a.role_definition_id.lower() == role
        and a.principal_id.lower() == principal
        and (a.condition, a.condition_version) == (subject.condition, subject.condition_version)
        for a in at_scope
    )


def _permission_sets(policy: AccessPolicy) -> dict[str, frozenset[str]]:
    return {kind: frozenset(p.lower() for p in getattr(policy, kind)) for kind in PERMISSIONS}


def _policy_shows(change: Change, listed: Sequence[AccessPolicy]) -> bool:
    """An access-policy entry by its identity (object, application): deleted, gone; otherwise
    there with exactly the entry's permissions (names compared case-insensitively, as Azure does;
    the entries of one identity count together, as discovery merges them)."""
    wanted = change.payload
    assert isinstance(wanted, AccessPolicy)
    mine = [p for p in listed if p.entry_key.lower() == wanted.entry_key.lower()]
    if change.action is Action.DELETE:
        return not mine
    if not mine:
        return False
    held = {kind: frozenset(p for e in mine for p in _permission_sets(e)[kind]) for kind in PERMISSIONS}
    return held == _permission_sets(wanted)


def shows(change: Change, observation: Observation) -> bool:
    """Does this answer show the change in effect? A create (or update) is in effect when the
    item is there as desired; a delete when it is gone."""
    if observation.read.kind is ReadKind.ARM_ASSIGNMENTS:
        return _arm_shows(change, observation.arm_assignments)
    if observation.read.kind is ReadKind.ACCESS_POLICIES:
        return _policy_shows(change, observation.access_policies)
    if change.kind is Kind.ROLE_DEFINITION:
        found = next((d for d in observation.definitions if d.name == change.role_id.lower()), None)
        if change.action is Action.DELETE:
            return found is None
        desired = change.definition
        return found is not None and desired is not None and diff_role_definition(found, desired) is None
    at_scope = [a for a in observation.assignments if _same_scope(a.scope, change.scope)]
    if change.action is Action.DELETE:
        return not any(a.name == change.name.lower() for a in at_scope)
    # By its natural key: "already so" may have found the same grant under another name.
    role, principal = change.role_id.lower(), (change.principal_id or "").lower()
    return any(a.role_definition_id == role and a.principal_id == principal for a in at_scope)


@dataclass
class EffectTracker:
    """The latest answer of every region about every checked change, and the regions known.

    `changes`: the checked changes by their index in the apply's results. A change is in effect
    when every region known for its HSM has answered, and its latest answer shows the change.
    """

    changes: Mapping[int, Change]
    regions: dict[str, set[str]] = field(default_factory=dict)  # read target -> regions that answered
    latest: dict[int, dict[str, bool]] = field(default_factory=dict)  # index -> region -> shown
    errors: dict[ReadBack, str] = field(default_factory=dict)  # the last failed read's reason
    denied_streak: dict[ReadBack, int] = field(default_factory=dict)  # denials since its last answer

    def learn_regions(self, hsm: str, regions: Iterable[str]) -> None:
        """Regions that answered for this HSM before (discovery, apply): they must agree too."""
        self.regions.setdefault(hsm, set()).update(regions)

    def hsms(self) -> set[str]:
        """The HSMs read back (each has regions to learn; ARM and vault reads have one view)."""
        reads = (read_for(c) for c in self.changes.values())
        return {r.target for r in reads if not r.kind.management}

    def record(self, observation: Observation) -> None:
        read = observation.read
        self.learn_regions(read.target, (observation.region,) if observation.region else ())
        if observation.denied:
            self.denied_streak[read] = self.denied_streak.get(read, 0) + 1
        elif observation.error is None:
            self.denied_streak[read] = 0
        if observation.error is not None:
            self.errors[read] = observation.error
            return
        self.errors.pop(read, None)
        for index, change in self.changes.items():
            if read_for(change) == read:
                self.latest.setdefault(index, {})[observation.region] = shows(change, observation)

    def in_effect(self, index: int) -> bool:
        answers = self.latest.get(index, {})
        regions = self.regions.get(read_for(self.changes[index]).target, set()) | set(answers)
        return bool(regions) and all(answers.get(region, False) for region in regions)

    def unreadable(self, index: int) -> bool:
        """The read that would show this change keeps being denied (say the apply took the
        applier's own read right away, `--allow-lockout`): waiting cannot help. A denial carries
        no region (Azure names it on successful answers only), so "keeps" means twice as many
        denials in a row as the HSM has known regions: a region that lags behind a grant, among
        others that answer, is waited out."""
        read = read_for(self.changes[index])
        regions = self.regions.get(read.target, set())
        return self.denied_streak.get(read, 0) >= 2 * max(1, len(regions))

    def pending(self) -> list[int]:
        """The changes still worth reading back: not seen in effect, and readable somewhere."""
        return [i for i in self.changes if not self.in_effect(i) and not self.unreadable(i)]

    def reads(self, turn: int = 0) -> list[ReadBack]:
        """The reads still needed, one per HSM and scope, rotated by `turn`: with a share of
        requests going to the other region, the same read then lands in another region."""
        needed = sorted({read_for(self.changes[i]) for i in self.pending()})
        if not needed:
            return []
        start = turn % len(needed)
        return needed[start:] + needed[:start]

    def why_not(self, index: int) -> str:
        """Why a change is not in effect (for the report)."""
        read = read_for(self.changes[index])
        answers = self.latest.get(index, {})
        regions = sorted(self.regions.get(read.target, set()) | set(answers))
        missing = [r for r in regions if not answers.get(r, False)]
        error = self.errors.get(read)
        if error is not None and not answers:
            return f"could not be read back: {error}"
        failed = f" (last read failed: {error})" if error else ""
        if read.kind.management:
            where = (
                "the vault's access policies"
                if read.kind is ReadKind.ACCESS_POLICIES
                else "its scope's listing"
            )
            return f"not yet seen in {where} ({ARM_VIEW})" + failed
        return f"not yet seen in region {', '.join(missing) if missing else 'any region'}" + failed


def tracker_for(results: Sequence[ChangeResult]) -> EffectTracker:
    return EffectTracker({i: r.change for i, r in enumerate(results) if is_checked(r)})
