"""The planner over literal states: every action kind, ordering, prune, idempotence, names."""

from __future__ import annotations

from hsmsync.core.ids import deterministic_name
from hsmsync.core.plan import Action, Kind, Plane
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import ArmRoleAssignment, Permission, RoleDefinition
from hsmsync.core.state_edits import apply_to_state

from .builders import (
    ADMIN,
    ALICE,
    AUDITOR,
    BOB,
    CRYPTO_USER,
    INITIAL_ADMIN,
    RG,
    TEAM,
    assignment,
    live,
    manifest,
)

TEAMS = {
    "ops": {
        "members": ["team"],
        "data": [{"hsm": "h1", "role": "Administrator", "scope": "/"}],
        "management": [{"role": "Managed HSM Contributor", "scope": RG}],
    },
    "app": {"members": ["bob"], "data": [{"hsm": "h1", "role": "Crypto User", "scope": "/keys/signing"}]},
}
ROTATOR = {
    "rot": {
        "hsm": "h1",
        "name": "Rotator",
        "data_actions": ["keys/read/action", "keys/rotate/action"],
    }
}


def _apply_all(state, plan):
    for change in plan.changes:
        state, _ = apply_to_state(state, change)
    return state


class TestCreate:
    def test_creates_every_declared_assignment_on_both_planes(self):
        plan = plan_changes(manifest(teams=TEAMS), live())
        got = {(c.action, c.plane, c.scope, c.role_id, c.principal_id) for c in plan.changes}
        assert got == {
            (Action.CREATE, Plane.DATA, "/", ADMIN, TEAM),
            (Action.CREATE, Plane.DATA, "/keys/signing", CRYPTO_USER, BOB),
            (Action.CREATE, Plane.MANAGEMENT, RG, "18500a29-7fe2-46b2-a342-b16a415e101d", TEAM),
        }

    def test_management_assignment_carries_principal_type(self):
        plan = plan_changes(manifest(teams=TEAMS), live())
        arm = [c for c in plan.changes if c.plane is Plane.MANAGEMENT]
        assert [c.principal_type for c in arm] == ["Group"]

    def test_names_are_deterministic_uuid5_of_the_natural_key(self):
        first = plan_changes(manifest(teams=TEAMS), live())
        second = plan_changes(manifest(teams=TEAMS), live())
        assert [c.name for c in first.changes] == [c.name for c in second.changes]
        admin = next(c for c in first.changes if c.role_id == ADMIN)
        assert admin.name == deterministic_name("data", "h1", "/", ADMIN, TEAM)

    def test_existing_assignment_under_another_name_is_matched_by_natural_key(self):
        plan = plan_changes(manifest(teams=TEAMS), live(assignment(7, "/", ADMIN, TEAM)))
        assert not [c for c in plan.changes if c.role_id == ADMIN]

    def test_reason_names_the_team(self):
        plan = plan_changes(manifest(teams=TEAMS), live())
        assert {c.reason for c in plan.changes} == {"declared by team ops", "declared by team app"}


class TestPrune:
    def test_prune_deletes_undeclared_assignment(self):
        plan = plan_changes(manifest(teams=TEAMS), live(assignment(1, "/", AUDITOR, ALICE)))
        deletes = [c for c in plan.changes if c.action is Action.DELETE]
        assert [(d.principal_id, d.role_id, d.name) for d in deletes] == [
            (ALICE, AUDITOR, "00000000-0000-0000-0000-000000000001")
        ]
        assert "prune: true" in deletes[0].reason
        assert plan.unmanaged == ()

    def test_without_prune_undeclared_assignment_is_reported_unmanaged(self):
        plan = plan_changes(manifest(prune=False, teams=TEAMS), live(assignment(1, "/", AUDITOR, ALICE)))
        assert not [c for c in plan.changes if c.action is Action.DELETE]
        assert [(u.principal_id, u.role) for u in plan.unmanaged] == [(ALICE, "Managed HSM Crypto Auditor")]
        assert plan.unmanaged[0].principal == "alice"

    def test_initial_administrator_is_kept_even_with_prune(self):
        plan = plan_changes(manifest(teams=TEAMS), live(assignment(1, "/", ADMIN, INITIAL_ADMIN)))
        assert not [c for c in plan.changes if c.action is Action.DELETE]
        assert "initial administrator" in plan.unmanaged[0].reason

    def test_management_prune_only_touches_declared_principals_at_declared_scopes(self):
        other_scope = ArmRoleAssignment(
            name="00000000-0000-0000-0000-0000000000a1",
            scope="/subscriptions/11111111-2222-3333-4444-555555555555",
            role_definition_id="acdd72a7-3385-48ef-bd42-f606fba81ae7",
            principal_id=TEAM,
            principal_type="Group",
        )
        stranger = other_scope.model_copy(
            update={
                "scope": RG,
                "principal_id": INITIAL_ADMIN,
                "name": "00000000-0000-0000-0000-0000000000a2",
            }
        )
        extra = other_scope.model_copy(
            update={
                "scope": RG.upper().replace("SUBSCRIPTIONS", "subscriptions"),
                "name": "00000000-0000-0000-0000-0000000000a3",
            }
        )
        plan = plan_changes(manifest(teams=TEAMS, mgmt_prune=True), live(arm=(other_scope, stranger, extra)))
        deletes = [c.name for c in plan.changes if c.action is Action.DELETE]
        assert deletes == ["00000000-0000-0000-0000-0000000000a3"]


class TestRoleDefinitions:
    def test_custom_role_is_created_before_its_assignment(self):
        teams = {"r": {"members": ["bob"], "data": [{"hsm": "h1", "role": "rot", "scope": "/keys/k1"}]}}
        plan = plan_changes(manifest(teams=teams, roles=ROTATOR), live())
        kinds = [(c.action, c.kind) for c in plan.changes]
        assert kinds == [(Action.CREATE, Kind.ROLE_DEFINITION), (Action.CREATE, Kind.ROLE_ASSIGNMENT)]
        assert plan.changes[1].role_id == plan.changes[0].role_id

    def test_update_shows_added_and_removed_data_actions(self):
        desired = manifest(roles=ROTATOR)
        role_id = desired.hsms["h1"].custom_roles[0].name
        old = RoleDefinition(
            name=role_id,
            role_name="Rotator",
            permissions=(
                Permission(
                    data_actions=(
                        "Microsoft.KeyVault/managedHsm/keys/read/action",
                        "Microsoft.KeyVault/managedHsm/keys/delete",
                    )
                ),
            ),
        )
        plan = plan_changes(desired, live(roles=(old,)))
        (change,) = plan.changes
        assert change.action is Action.UPDATE
        assert change.added_data_actions == ("Microsoft.KeyVault/managedHsm/keys/rotate/action",)
        assert change.removed_data_actions == ("Microsoft.KeyVault/managedHsm/keys/delete",)
        assert [f.path for f in change.field_changes] == ["permissions[0].data_actions"]

    def test_action_case_and_order_do_not_count_as_a_difference(self):
        desired = manifest(roles=ROTATOR)
        role = desired.hsms["h1"].custom_roles[0]
        (block,) = role.permissions
        upper = block.model_copy(
            update={"data_actions": tuple(a.upper() for a in reversed(block.data_actions))}
        )
        shuffled = role.model_copy(update={"permissions": (upper,)})
        assert plan_changes(desired, live(roles=(shuffled,))).is_empty

    def test_undeclared_custom_role_is_deleted_last_when_pruning(self):
        stray = RoleDefinition(name="99999999-0000-0000-0000-000000000009", role_name="Stray")
        plan = plan_changes(manifest(teams=TEAMS), live(assignment(1, "/", AUDITOR, ALICE), roles=(stray,)))
        assert [(c.action, c.kind) for c in plan.changes][-2:] == [
            (Action.DELETE, Kind.ROLE_ASSIGNMENT),
            (Action.DELETE, Kind.ROLE_DEFINITION),
        ]

    def test_same_name_under_other_guid_warns_how_to_adopt(self):
        other = RoleDefinition(name="99999999-0000-0000-0000-000000000009", role_name="rotator")
        plan = plan_changes(manifest(prune=False, roles=ROTATOR), live(roles=(other,)))
        assert any("id: 99999999-0000-0000-0000-000000000009" in w for w in plan.warnings)


class TestOrderAndIdempotence:
    def test_make_before_break_order(self):
        stray = RoleDefinition(name="99999999-0000-0000-0000-000000000009", role_name="Stray")
        teams = {**TEAMS, "r": {"members": ["alice"], "data": [{"hsm": "h1", "role": "rot", "scope": "/"}]}}
        plan = plan_changes(
            manifest(teams=teams, roles=ROTATOR), live(assignment(1, "/", AUDITOR, ALICE), roles=(stray,))
        )
        phases = [c.phase for c in plan.changes]
        assert phases == sorted(phases)
        assert [c["order"] for c in plan.to_dict()["changes"]] == list(range(1, len(plan.changes) + 1))
        assert {c.phase for c in plan.changes} == {1, 2, 3, 4}

    def test_applying_the_plan_then_replanning_gives_nothing(self):
        desired = manifest(teams=TEAMS, roles=ROTATOR)
        state = live(assignment(1, "/", AUDITOR, ALICE))
        plan = plan_changes(desired, state)
        after = _apply_all(state, plan)
        assert plan_changes(desired, after).is_empty

    def test_output_is_sorted_and_stable(self):
        a = plan_changes(
            manifest(teams=TEAMS),
            live(assignment(2, "/", AUDITOR, ALICE), assignment(1, "/keys", AUDITOR, BOB)),
        )
        b = plan_changes(
            manifest(teams=TEAMS),
            live(assignment(1, "/keys", AUDITOR, BOB), assignment(2, "/", AUDITOR, ALICE)),
        )
        assert a.to_dict() == b.to_dict()

    def test_change_ids_are_stable_and_unique(self):
        plan = plan_changes(manifest(teams=TEAMS, roles=ROTATOR), live(assignment(1, "/", AUDITOR, ALICE)))
        ids = [c.id for c in plan.changes]
        assert len(set(ids)) == len(ids)
        assert f"data:h1:role_assignment:/:{ADMIN}:{TEAM}" in ids


def test_contributor_means_the_azure_role_not_managed_hsm_contributor_shortened():
    from hsmsync.core.catalog import RoleIndex, management_roles

    index = RoleIndex(management_roles())

    def name_of(reference: str) -> str | None:
        role = index.find(reference)
        return role.name if role is not None else None

    assert name_of("Contributor") == "b24988ac-6180-42a0-ab88-20f7382dd24c"
    assert name_of("contributor") == "b24988ac-6180-42a0-ab88-20f7382dd24c"
    assert name_of("Managed HSM Contributor") == "18500a29-7fe2-46b2-a342-b16a415e101d"


def test_undeclared_custom_azure_roles_are_pruned_only_with_prune_roles():
    from hsmsync.core.compile import compile_manifest
    from hsmsync.core.model import Manifest
    from hsmsync.core.state import ArmRoleDefinition, LiveState

    other_team = ArmRoleDefinition(
        name="99999999-0000-4000-8000-000000000001", role_name="Someone Else's Role", assignable_scopes=(RG,)
    )
    live_state = LiveState(arm={"role_definitions": (other_team,)})

    def plan(**management: bool):
        doc = {"version": 1, "management": management}
        return plan_changes(compile_manifest(Manifest.model_validate(doc)), live_state)

    assert plan(prune=True).is_empty
    (change,) = plan(prune=True, prune_roles=True).changes
    assert (change.action, change.role_id) == (Action.DELETE, other_team.name)


def test_live_assignments_sharing_a_natural_key_are_each_planned_in_order():
    """Two live assignments with the same role, principal and scope (names differ; the scope's
    case too): undeclared, both are deleted; declared, neither is (nor is one created)."""
    twins = (assignment(2, "/keys/Other", AUDITOR, ALICE), assignment(1, "/keys/other", AUDITOR, ALICE))
    plan = plan_changes(manifest(teams=TEAMS), live(assignment(9, "/", AUDITOR, BOB), *twins))
    deleted = [c.name for c in plan.changes if c.action is Action.DELETE]
    assert set(deleted) == {a.name for a in twins} | {assignment(9, "/", AUDITOR, BOB).name}
    declared = {
        **TEAMS,
        "audit": {
            "members": ["alice"],
            "data": [{"hsm": "h1", "role": "Crypto Auditor", "scope": "/keys/other"}],
        },
    }
    plan = plan_changes(manifest(teams=declared), live(*twins))
    assert not [c for c in plan.changes if c.action is Action.DELETE and c.principal_id == ALICE]
    assert not [c for c in plan.changes if c.action is Action.CREATE and c.principal_id == ALICE]


def test_the_fast_live_keys_equal_the_natural_keys():
    from hsmsync.core.desired import assignment_key, data_assignment_keys

    items = [assignment(1, "/keys/MiXed", AUDITOR, ALICE), assignment(2, "/", CRYPTO_USER, BOB)]
    fast = list(data_assignment_keys("h1", items))
    slow = [assignment_key(Plane.DATA, "h1", a.scope, a.role_definition_id, a.principal_id) for a in items]
    assert fast == slow
    assert [hash(k) for k in fast] == [hash(k) for k in slow]
    # Plain tuples (no call per key), found by AssignmentKeys and finding them, both ways.
    assert all(type(k) is tuple for k in fast)
    by_slow: dict[tuple[str, ...], None] = dict.fromkeys(slow)
    by_fast: dict[tuple[str, ...], None] = dict.fromkeys(fast)
    assert all(k in by_slow and s in by_fast for k, s in zip(fast, slow, strict=True))
