"""Apply's read-back of management-plane changes (core/effect.py): Azure role assignments, read by
one atScope() listing per ARM scope, and Key Vault access-policy entries, by one read of their
vault; how each read is compared with the change, and what is reported when it does not show it."""

from __future__ import annotations

from dataclasses import replace

from hsmsync.core.effect import (
    ARM_VIEW,
    EffectTracker,
    Observation,
    ReadBack,
    ReadKind,
    read_for,
    shows,
    tracker_for,
)
from hsmsync.core.ids import deterministic_name
from hsmsync.core.plan import Action, Change, Kind, Plane, RoleAssignmentSubject
from hsmsync.core.results import ChangeResult, ChangeStatus
from hsmsync.core.state import AccessPolicy, ArmRoleAssignment
from hsmsync.core.target import ARM, Target
from tests.changes import flat_change

RG = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg"
VAULT_ID = RG + "/providers/Microsoft.KeyVault/vaults/kv"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
ALICE = "aaaaaaaa-0000-4000-8000-000000000001"
BOB = "bbbbbbbb-0000-4000-8000-000000000002"
APP = "cccccccc-0000-4000-8000-000000000003"
CONDITION = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})))"


def _arm(action: Action, principal: str, scope: str = RG, target: Target = ARM) -> Change:
    return flat_change(
        id=f"management:{scope}:{principal}:{action}",
        action=action,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=Plane.MANAGEMENT,
        target=target,
        scope=scope,
        name=deterministic_name("management", scope, READER, principal),
        role="Reader",
        role_id=READER,
        reason="test",
        principal_id=principal,
    )


def _listed(change: Change, **update: object) -> ArmRoleAssignment:
    listed = ArmRoleAssignment(
        name=change.name, scope=change.scope, role_definition_id=READER, principal_id=change.principal_id
    )
    return listed.model_copy(update=update)


def _policy(action: Action, entry: AccessPolicy) -> Change:
    return flat_change(
        id=f"management:kv:{entry.entry_key}:{action}",
        action=action,
        kind=Kind.ACCESS_POLICY,
        plane=Plane.MANAGEMENT,
        target=Target.vault("kv"),
        scope=VAULT_ID,
        name=entry.entry_key,
        role="",
        role_id="",
        reason="test",
        principal_id=entry.object_id,
        payload=entry,
    )


def _applied(*changes: Change) -> tuple[ChangeResult, ...]:
    return tuple(ChangeResult(c, ChangeStatus.APPLIED) for c in changes)


def test_azure_role_assignments_share_one_listing_per_scope_and_vault_entries_one_read() -> None:
    at_vault = _arm(Action.CREATE, BOB, VAULT_ID, Target.vault("kv"))
    changes = (
        _arm(Action.CREATE, ALICE),
        _arm(Action.DELETE, BOB),
        at_vault,
        _policy(Action.CREATE, AccessPolicy(object_id=ALICE, keys=("get",))),
        _policy(Action.DELETE, AccessPolicy(object_id=BOB)),
    )
    tracker = tracker_for(_applied(*changes))
    assert list(tracker.changes) == [0, 1, 2, 3, 4]
    assert tracker.reads() == [
        ReadBack("", ReadKind.ARM_ASSIGNMENTS, RG),
        ReadBack("", ReadKind.ARM_ASSIGNMENTS, VAULT_ID),  # an Azure role assignment at a vault: ARM too
        ReadBack("kv", ReadKind.ACCESS_POLICIES, VAULT_ID),
    ]
    assert tracker.hsms() == set()  # ARM and vault reads have no regions to learn


def test_an_azure_role_assignment_shows_by_natural_key_and_a_delete_by_absence() -> None:
    create = _arm(Action.CREATE, ALICE)
    read = read_for(create)
    assert not shows(create, Observation(read, ARM_VIEW))
    elsewhere = _listed(create, name="99999999-0000-4000-8000-000000000000")
    assert shows(create, Observation(read, ARM_VIEW, arm_assignments=(elsewhere,)))  # "already so"
    upper = _listed(create, scope=RG.upper() + "/")
    assert shows(create, Observation(read, ARM_VIEW, arm_assignments=(upper,)))  # ARM scopes: any case
    other_role = _listed(create, role_definition_id=APP)
    assert not shows(create, Observation(read, ARM_VIEW, arm_assignments=(other_role,)))
    delete = _arm(Action.DELETE, BOB)
    assert shows(delete, Observation(read, ARM_VIEW, arm_assignments=(_listed(create),)))
    assert not shows(delete, Observation(read, ARM_VIEW, arm_assignments=(_listed(delete),)))


def test_an_azure_role_assignment_is_in_effect_only_with_its_condition() -> None:
    create = _arm(Action.CREATE, ALICE)
    subject = create.subject
    assert isinstance(subject, RoleAssignmentSubject)
    conditioned = replace(create, subject=replace(subject, condition=CONDITION, condition_version="2.0"))
    read = read_for(conditioned)
    plain = _listed(create)
    assert not shows(conditioned, Observation(read, ARM_VIEW, arm_assignments=(plain,)))
    with_it = _listed(create, condition=CONDITION, condition_version="2.0")
    assert shows(conditioned, Observation(read, ARM_VIEW, arm_assignments=(with_it,)))
    assert not shows(create, Observation(read, ARM_VIEW, arm_assignments=(with_it,)))


def test_an_access_policy_entry_shows_with_exactly_its_permissions() -> None:
    entry = AccessPolicy(object_id=ALICE, keys=("get", "unwrapkey"), secrets=("get",))
    create = _policy(Action.CREATE, entry)
    read = read_for(create)
    same = AccessPolicy(object_id=ALICE, keys=("unwrapKey", "Get"), secrets=("get",))
    assert shows(create, Observation(read, ARM_VIEW, access_policies=(same,)))  # any case, any order
    fewer = AccessPolicy(object_id=ALICE, keys=("get",), secrets=("get",))
    assert not shows(create, Observation(read, ARM_VIEW, access_policies=(fewer,)))
    more = entry.model_copy(update={"certificates": ("get",)})
    assert not shows(create, Observation(read, ARM_VIEW, access_policies=(more,)))
    # A compound entry of the same object is another entry: it does not stand in for this one.
    compound = entry.model_copy(update={"application_id": APP})
    assert not shows(create, Observation(read, ARM_VIEW, access_policies=(compound,)))
    delete = _policy(Action.DELETE, AccessPolicy(object_id=ALICE))
    assert shows(delete, Observation(read, ARM_VIEW, access_policies=(compound,)))
    assert not shows(delete, Observation(read, ARM_VIEW, access_policies=(same,)))


def test_a_change_arm_does_not_list_yet_says_where_it_was_not_seen() -> None:
    create, entry = _arm(Action.CREATE, ALICE), _policy(Action.CREATE, AccessPolicy(object_id=ALICE))
    tracker = EffectTracker({0: create, 1: entry})
    for read in tracker.reads():
        tracker.record(Observation(read, ARM_VIEW))
    assert tracker.pending() == [0, 1]
    assert tracker.why_not(0) == f"not yet seen in its scope's listing ({ARM_VIEW})"
    assert tracker.why_not(1) == f"not yet seen in the vault's access policies ({ARM_VIEW})"
    tracker.record(Observation(read_for(create), ARM_VIEW, arm_assignments=(_listed(create),)))
    assert tracker.in_effect(0) and tracker.pending() == [1]


def test_a_denied_arm_listing_is_given_up_after_two_denials() -> None:
    create = _arm(Action.CREATE, ALICE)
    tracker = EffectTracker({0: create})
    denied = Observation(read_for(create), "", error="403 AuthorizationFailed", denied=True)
    tracker.record(denied)
    assert not tracker.unreadable(0)
    tracker.record(denied)
    assert tracker.unreadable(0) and tracker.pending() == []
    assert tracker.why_not(0) == "could not be read back: 403 AuthorizationFailed"
