"""The lockout guard over literal states."""

from __future__ import annotations

from dataclasses import replace

from hsmsync.core.applier_rights import rights_to_keep
from hsmsync.core.desired import DesiredState
from hsmsync.core.guard import Caller, check_lockout
from hsmsync.core.plan import Action, Kind, Plan, Plane
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import ArmRoleAssignment, ArmRoleDefinition, LiveState, Permission
from hsmsync.core.target import Target
from tests.changes import flat_change

from .builders import ADMIN, ALICE, AUDITOR, BOB, RG, TEAM, assignment, live, manifest

ADMINS = {"ops": {"members": ["team"], "data": [{"hsm": "h1", "role": "Administrator"}]}}


def test_removing_the_last_administrator_is_refused():
    state = live(assignment(1, "/", ADMIN, ALICE))
    problems = check_lockout(plan_changes(manifest(), state), state)
    assert problems == [
        "h1: after this plan nobody could manage role assignments at '/' "
        "(no principal would hold roleAssignments/write/action there through any role)"
    ]


def test_replacing_the_administrator_is_allowed():
    state = live(assignment(1, "/", ADMIN, ALICE))
    assert check_lockout(plan_changes(manifest(teams=ADMINS), state), state) == []


def test_custom_role_with_role_assignment_write_counts_as_an_administrator():
    roles = {"ra": {"hsm": "h1", "name": "Assigner", "data_actions": ["roleAssignments/write/action"]}}
    teams = {"x": {"members": ["bob"], "data": [{"hsm": "h1", "role": "ra"}]}}
    state = live(assignment(1, "/", ADMIN, ALICE))
    assert check_lockout(plan_changes(manifest(teams=teams, roles=roles), state), state) == []


def test_a_per_key_assigner_does_not_count():
    roles = {"ra": {"hsm": "h1", "name": "Assigner", "data_actions": ["roleAssignments/write/action"]}}
    teams = {"x": {"members": ["bob"], "data": [{"hsm": "h1", "role": "ra", "scope": "/keys/k"}]}}
    state = live(assignment(1, "/", ADMIN, ALICE))
    assert check_lockout(plan_changes(manifest(teams=teams, roles=roles), state), state) != []


def test_plan_that_removes_the_appliers_own_right_mid_apply_is_refused():
    state = live(assignment(1, "/", ADMIN, ALICE), assignment(2, "/", AUDITOR, BOB))
    plan = plan_changes(manifest(teams=ADMINS), state)
    deletes = [(order, c.principal_id) for order, c in plan.numbered() if c.action is Action.DELETE]
    assert deletes[0][1] == ALICE  # Administrator sorts before Crypto Auditor
    problems = check_lockout(plan, state, caller=Caller(ALICE))
    assert problems == [
        f"h1: change #{deletes[0][0]} removes the applying identity's own roleAssignments/delete/action "
        f"at '/', so change #{deletes[1][0]} could not be applied"
    ]


def test_applier_acting_through_a_group_keeps_its_right():
    state = live(assignment(1, "/", ADMIN, TEAM), assignment(2, "/", AUDITOR, BOB))
    plan = plan_changes(manifest(teams=ADMINS), state)
    assert check_lockout(plan, state, caller=Caller(ALICE, (TEAM,))) == []


def test_deleting_a_builtin_role_definition_is_refused():
    change = flat_change(
        id="x",
        action=Action.DELETE,
        kind=Kind.ROLE_DEFINITION,
        plane=Plane.DATA,
        target=Target.hsm("h1"),
        scope="/",
        name=ADMIN,
        role="Managed HSM Administrator",
        role_id=ADMIN,
        reason="hand-edited",
    )
    problems = check_lockout(Plan(changes=(change,)), live())
    assert "built-in roles are never deleted" in problems[0]


def test_removing_the_last_azure_owner_of_the_hsm_resource_is_refused():
    owner = ArmRoleAssignment(
        name="00000000-0000-0000-0000-0000000000a1",
        scope=RG,
        role_definition_id="8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        principal_id=TEAM,
        principal_type="Group",
    )
    teams = {"ops": {"members": ["team"], "management": [{"role": "Reader", "scope": RG}]}}
    state = live(arm=(owner,))
    plan = plan_changes(manifest(teams=teams, mgmt_prune=True), state)
    assert any(c.action is Action.DELETE and c.plane is Plane.MANAGEMENT for c in plan.changes)
    assert "Azure RBAC: after this plan no known principal" in check_lockout(plan, state)[0]
    contributor = replace(plan, changes=())
    assert check_lockout(contributor, state) == []


ASSIGNER = ArmRoleDefinition(
    name="0f0f0f0f-0000-4000-8000-00000000c001",
    role_name="Contoso Access Admin",
    permissions=(
        Permission(
            actions=("Microsoft.Authorization/roleAssignments/*", "Microsoft.KeyVault/managedHSMs/read")
        ),
    ),
)
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def _arm(n: int, role: str, principal: str) -> ArmRoleAssignment:
    return ArmRoleAssignment(
        name=f"00000000-0000-0000-0000-0000000000b{n}",
        scope=RG,
        role_definition_id=role,
        principal_id=principal,
        principal_type="User",
    )


def test_custom_azure_roles_count_as_managing_role_assignments():
    state = live(arm=(_arm(1, OWNER, TEAM), _arm(2, ASSIGNER.name, BOB)))
    state = state.model_copy(update={"arm": state.arm.model_copy(update={"role_definitions": (ASSIGNER,)})})
    teams = {"ops": {"members": ["bob"], "management": [{"role": "Reader", "scope": RG}]}}
    plan = plan_changes(manifest(teams=teams, mgmt_prune=True), state)
    deleted = {c.principal_id for c in plan.changes if c.action is Action.DELETE}
    assert deleted == {TEAM, BOB}
    # Bob keeps his custom role only if the manifest declares it; here both go: nobody is left.
    assert "Azure RBAC: after this plan no known principal" in check_lockout(plan, state)[0]
    # The owner goes, the custom role holder stays: someone can still manage assignments.
    keep_bob = replace(plan, changes=tuple(c for c in plan.changes if c.principal_id != BOB))
    assert check_lockout(keep_bob, state) == []


def test_the_applier_keeps_its_azure_rights_through_a_custom_role():
    state = live(arm=(_arm(1, OWNER, TEAM), _arm(2, ASSIGNER.name, ALICE)))
    state = state.model_copy(update={"arm": state.arm.model_copy(update={"role_definitions": (ASSIGNER,)})})
    teams = {"ops": {"members": ["team"], "management": [{"role": "Owner", "scope": RG}]}}
    desired = manifest(teams=teams, mgmt_prune=True)
    plan = plan_changes(desired, state)
    [(gone, _)] = [(order, c) for order, c in plan.numbered() if c.action is Action.DELETE]
    problems = check_lockout(plan, state, caller=Caller(ALICE), keep=rights_to_keep(desired))
    assert (
        f"Azure RBAC: change #{gone} (delete role assignment {ASSIGNER.role_name}) would take from the "
        f"applying identity Microsoft.Authorization/roleAssignments/write at '{RG}' (it holds it through "
        "Contoso Access Admin), which it needs to manage Azure role assignments" in problems
    )


def test_the_guard_names_the_right_role_and_scope_for_data_plane_rights():
    state = live(assignment(1, "/", ADMIN, ALICE), assignment(2, "/keys", AUDITOR, ALICE))
    teams = {
        "ops": {"members": ["team"], "data": [{"hsm": "h1", "role": "Administrator"}]},
        "me": {"members": ["alice"], "data": [{"hsm": "h1", "role": "Administrator"}]},
    }
    desired = manifest(teams=teams)  # prunes: Alice's Crypto Auditor at /keys would go
    plan = plan_changes(desired, state)
    problems = check_lockout(plan, state, caller=Caller(ALICE), keep=rights_to_keep(desired))
    assert any(
        "keys/read/action at '/keys' (it holds it through Managed HSM Crypto Auditor), which it needs to "
        "list keys (it prunes)" in p
        for p in problems
    ), problems


def test_a_service_principals_groups_do_not_keep_its_data_plane_rights():
    # Alice holds Administrator directly and through the team; the plan drops the direct one. The
    # HSM data plane honours a user's groups but not a service principal's (Managed HSM
    # role-management doc, note): as a user she keeps her rights, as an application she loses them.
    state = live(assignment(1, "/", ADMIN, ALICE), assignment(2, "/", ADMIN, TEAM))
    desired = manifest(teams=ADMINS)
    plan = plan_changes(desired, state)
    assert [c.principal_id for c in plan.changes if c.action is Action.DELETE] == [ALICE]
    keep = rights_to_keep(desired)
    assert check_lockout(plan, state, caller=Caller(ALICE, (TEAM,)), keep=keep) == []
    problems = check_lockout(plan, state, caller=Caller(ALICE, arm_only_group_ids=(TEAM,)), keep=keep)
    assert any(
        "would take from the applying identity roleAssignments/write/action at '/'" in p for p in problems
    )


def test_a_service_principals_groups_count_in_azure_rbac():
    # Azure RBAC honours group membership for every principal: the team's custom role is the
    # application's own, and the guard keeps it.
    state = live(arm=(_arm(1, OWNER, BOB), _arm(2, ASSIGNER.name, TEAM)))
    state = state.model_copy(update={"arm": state.arm.model_copy(update={"role_definitions": (ASSIGNER,)})})
    teams = {"ops": {"members": ["bob"], "management": [{"role": "Owner", "scope": RG}]}}
    desired = manifest(teams=teams, mgmt_prune=True)
    plan = plan_changes(desired, state)
    problems = check_lockout(
        plan, state, caller=Caller(ALICE, arm_only_group_ids=(TEAM,)), keep=rights_to_keep(desired)
    )
    assert any(
        "Microsoft.Authorization/roleAssignments/write" in p and "Contoso Access Admin" in p for p in problems
    )
    assert Caller(ALICE, arm_only_group_ids=(TEAM,)).data_ids == {ALICE}


DATA_ACCESS_ADMIN = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _limited_to(*roles: str) -> str:
    """Key Vault Data Access Administrator's condition: it may assign (and remove) only `roles`."""
    guids = ", ".join(roles)
    return " AND ".join(
        f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/{verb}'}})) OR "
        f"(@{side}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
        for verb, side in (("write", "Request"), ("delete", "Resource"))
    )


# A custom assigner that may also manage the custom role itself (the manifest declares it).
ACCESS_ADMIN = ArmRoleDefinition(
    name="0f0f0f0f-0000-4000-8000-00000000c002",
    role_name="Contoso Authorization Admin",
    permissions=(Permission(actions=("Microsoft.Authorization/*", "Microsoft.KeyVault/managedHSMs/read")),),
)


def _conditional_state(
    condition: str | None, role: ArmRoleDefinition | None = None
) -> tuple[LiveState, DesiredState]:
    """Alice holds Owner at RG (the plan removes it), Reader, and Data Access Administrator (or
    `role`, a custom assigner) under `condition`; the team keeps its Owner (someone can still
    manage assignments)."""
    assigner = _arm(2, role.name if role else DATA_ACCESS_ADMIN, ALICE).model_copy(
        update={"condition": condition, "condition_version": "2.0" if condition else None}
    )
    state = live(arm=(_arm(1, OWNER, ALICE), assigner, _arm(3, READER, ALICE), _arm(4, OWNER, TEAM)))
    if role is not None:
        state = state.model_copy(update={"arm": state.arm.model_copy(update={"role_definitions": (role,)})})
    mine: dict[str, object] = {"role": role.role_name if role else "Key Vault Data Access Administrator"}
    mine |= {"scope": RG} | ({"condition": condition} if condition else {})
    teams = {
        "me": {"members": ["alice"], "management": [mine, {"role": "Reader", "scope": RG}]},
        "ops": {"members": ["team"], "management": [{"role": "Owner", "scope": RG}]},
    }
    custom = (
        {
            "assigner": {
                "name": role.role_name,
                "id": role.name,
                "actions": list(role.permissions[0].actions),
                "assignable_scopes": [RG],
            }
        }
        if role
        else {}
    )
    return state, manifest(teams=teams, mgmt_prune=True, arm_roles=custom)


def test_a_condition_that_denies_the_roles_hsmsync_assigns_does_not_keep_the_appliers_right():
    # The condition lets Alice assign only Key Vault Secrets User; the manifest assigns Reader,
    # Owner and the Data Access Administrator itself at RG: once her Owner goes, her next plan could not.
    state, desired = _conditional_state(_limited_to("4633458b-17de-408a-b874-0445c86b69e6"))
    plan = plan_changes(desired, state)
    assert [(c.action, c.principal_id) for c in plan.changes] == [(Action.DELETE, ALICE)]
    problems = check_lockout(plan, state, caller=Caller(ALICE), keep=rights_to_keep(desired))
    refusal = next(p for p in problems if "roleAssignments/write at" in p)
    assert "(it holds it through Owner)" in refusal
    assert (
        "not relied on: Key Vault Data Access Administrator (00000000-0000-0000-0000-0000000000b2) holds it "
        "only under a condition that denies write for the roles" in refusal
    )
    assert READER in refusal and "ForAnyOfAnyValues:GuidEquals" in refusal


def test_a_condition_that_allows_exactly_the_roles_hsmsync_assigns_keeps_the_appliers_right():
    # A custom assigner (its definition carries no condition), limited by the assignment's
    # condition to exactly the roles the manifest assigns.
    state, desired = _conditional_state(_limited_to(READER, ACCESS_ADMIN.name, OWNER), ACCESS_ADMIN)
    plan = plan_changes(desired, state)
    assert check_lockout(plan, state, caller=Caller(ALICE), keep=rights_to_keep(desired)) == []


def test_a_condition_hsmsync_cannot_evaluate_is_not_relied_on():
    state, desired = _conditional_state("@Resource[Microsoft.Authorization/roleAssignments:tags] Exists")
    plan = plan_changes(desired, state)
    problems = check_lockout(plan, state, caller=Caller(ALICE), keep=rights_to_keep(desired))
    assert any("a condition that could not be evaluated for write" in p for p in problems), problems


def test_the_roles_own_condition_counts_data_access_administrator_cannot_assign_reader():
    # No condition on the assignment: Key Vault Data Access Administrator's own definition allows
    # writing assignments of the Key Vault data roles only, so once Alice's Owner goes she could
    # not assign Reader, Owner or the Data Access Administrator on her next apply.
    state, desired = _conditional_state(None)
    plan = plan_changes(desired, state)
    assert [(c.action, c.principal_id) for c in plan.changes] == [(Action.DELETE, ALICE)]
    problems = check_lockout(plan, state, caller=Caller(ALICE), keep=rights_to_keep(desired))
    refusal = next(p for p in problems if "roleAssignments/write at" in p)
    assert "Key Vault Data Access Administrator" in refusal and "denies write for the roles" in refusal
    assert "4633458b-17de-408a-b874-0445c86b69e6" in refusal  # the role's condition, quoted
