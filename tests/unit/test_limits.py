"""Issue 10 item 4: at a full scope, the deletes a plan needs go ahead of its creates, exactly as many
as the limit requires; a plan that cannot fit even so is refused at plan time."""

from __future__ import annotations

import uuid
from typing import Any

from hsmsync.core.compile import compile_manifest
from hsmsync.core.guard import Caller, check_lockout
from hsmsync.core.model import Manifest
from hsmsync.core.plan import Action, Kind, Plan
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import (
    AccessPolicy,
    DataRoleAssignment,
    HsmState,
    LiveState,
    Permission,
    RoleDefinition,
    VaultState,
)
from hsmsync.core.state_edits import apply_to_state

from .builders import ADMIN, AUDITOR, INITIAL_ADMIN, RG, RID, URL

VAULT_RID = f"{RG}/providers/Microsoft.KeyVault/vaults/kv"


def pid(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"member-{i}"))


def _desired(members: range, scope: str = "/keys/k", extra: dict[str, Any] | None = None):
    principals = {f"m{i}": {"type": "Group", "id": pid(i)} for i in members}
    doc = {
        "version": 1,
        "principals": principals,
        "hsms": {"h1": {"url": URL, "resource_id": RID, "prune": True}},
        "teams": {
            "t": {
                "members": list(principals),
                "data": [{"hsm": "h1", "role": "Crypto Auditor", "scope": scope}],
            }
        },
        **(extra or {}),
    }
    return compile_manifest(Manifest.model_validate(doc))


def _live(members: range, scope: str = "/keys/k", **extra: Any) -> LiveState:
    assignments = [
        DataRoleAssignment(
            name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"a-{i}")),
            scope=scope,
            role_definition_id=AUDITOR,
            principal_id=pid(i),
        )
        for i in members
    ]
    admin = DataRoleAssignment(
        name=str(uuid.uuid4()), scope="/", role_definition_id=ADMIN, principal_id=INITIAL_ADMIN
    )
    hsm = HsmState(
        url=URL,
        resource_id=RID,
        initial_admin_object_ids=(INITIAL_ADMIN,),
        role_assignments=(admin, *assignments),
        keys=("k",),
    )
    return LiveState(hsms={"h1": hsm}, **extra)


def _apply_in_order(live: LiveState, plan: Plan, limit: int = 10) -> LiveState:
    """The plan's order, with the service's per-key limit checked after every change."""
    state = live
    for order, change in plan.numbered():
        state, _ = apply_to_state(state, change)
        at_key = [a for a in state.hsms["h1"].role_assignments if a.scope == "/keys/k"]
        assert len(at_key) <= limit, f"over the limit after change {order}: {change.id}"
    return state


def test_swapping_one_member_on_a_full_key_deletes_first_and_says_so():
    live = _live(range(10))  # the key holds 10: the limit
    desired = _desired(range(1, 11))  # m0 leaves, m10 joins
    plan = plan_changes(desired, live)
    assert [(c.action, c.principal_id) for c in plan.changes] == [
        (Action.DELETE, pid(0)),
        (Action.CREATE, pid(10)),
    ]
    assert (
        "deleted before the creates" in plan.changes[0].reason
        and "the limit per key (10)" in plan.changes[0].reason
    )
    assert any("1 delete ordered before the creates" in w for w in plan.warnings)
    assert plan.refusals == ()
    after = _apply_in_order(live, plan)
    assert plan_changes(desired, after).is_empty
    assert check_lockout(plan, live, caller=Caller(INITIAL_ADMIN)) == []


def test_only_as_many_deletes_as_the_limit_requires_go_first():
    live = _live(range(10))
    desired = _desired(range(3, 12))  # 3 leave, 2 join: 10 + 2 = 12, so 2 deletes must go first
    plan = plan_changes(desired, live)
    actions = [c.action for c in plan.changes]
    assert actions == [Action.DELETE, Action.DELETE, Action.CREATE, Action.CREATE, Action.DELETE]
    assert sum("deleted before the creates" in c.reason for c in plan.changes) == 2
    _apply_in_order(live, plan)


def test_with_room_make_before_break_is_kept():
    live = _live(range(9))
    plan = plan_changes(_desired(range(1, 10)), live)
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.DELETE]
    assert not any("deleted before" in c.reason for c in plan.changes)
    assert "role assignments at /keys/k on h1: 9 after this plan, the limit per key is 10" in plan.warnings


def test_a_plan_that_cannot_fit_even_deleting_first_is_refused():
    plan = plan_changes(_desired(range(11)), _live(range(10)))
    assert plan.refusals == (
        "role assignments at /keys/k on h1: 10 now, 11 after this plan; the limit per key is 10",
    )


def test_hsm_scope_counts_slash_and_keys_together():
    live = _live(range(49), scope="/keys")  # + the initial admin at '/': 50
    plan = plan_changes(_desired(range(1, 50), scope="/keys"), live)
    assert [c.action for c in plan.changes][:2] == [Action.DELETE, Action.CREATE]
    assert "HSM scope ('/' and '/keys' together)" in plan.changes[0].reason


def test_custom_roles_at_the_limit_are_swapped_delete_first():
    roles = tuple(
        RoleDefinition(
            name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"role-{i}")),
            role_name=f"old {i}",
            permissions=(Permission(data_actions=("Microsoft.KeyVault/managedHsm/keys/read/action",)),),
        )
        for i in range(50)
    )
    live = _live(range(0))
    live = live.model_copy(
        update={"hsms": {"h1": live.hsms["h1"].model_copy(update={"role_definitions": roles})}}
    )
    kept = {
        f"r{i}": {"hsm": "h1", "name": f"old {i}", "id": roles[i].name, "data_actions": ["keys/read/action"]}
        for i in range(1, 50)
    }
    kept["new"] = {"hsm": "h1", "name": "new", "data_actions": ["keys/read/action"]}
    plan = plan_changes(_desired(range(0), extra={"roles": kept}), live)
    role_changes = [(c.action, c.name) for c in plan.changes if c.kind is Kind.ROLE_DEFINITION]
    assert role_changes[0] == (Action.DELETE, roles[0].name) and role_changes[1][0] is Action.CREATE
    assert "custom roles on h1" in plan.changes[0].reason


def test_vault_access_policies_at_the_limit_are_swapped_delete_first():
    policies = tuple(AccessPolicy(object_id=pid(i), keys=("get",)) for i in range(1024))
    vault = VaultState(url="https://kv.vault.azure.net", resource_id=VAULT_RID, access_policies=policies)
    live = _live(range(0), vaults={"kv": vault})
    principals = {f"m{i}": {"type": "Group", "id": pid(i)} for i in range(1, 1025)}
    vaults = {
        "kv": {
            "url": "https://kv.vault.azure.net",
            "resource_id": VAULT_RID,
            "prune": True,
            "access_policies": {k: {"keys": ["get"]} for k in principals},
        }
    }
    desired = compile_manifest(
        Manifest.model_validate(
            {
                "version": 1,
                "principals": principals,
                "hsms": {"h1": {"url": URL, "resource_id": RID}},
                "vaults": vaults,
            }
        )
    )
    plan = plan_changes(desired, live)
    assert [(c.kind, c.action, c.principal_id) for c in plan.changes] == [
        (Kind.ACCESS_POLICY, Action.DELETE, pid(0)),
        (Kind.ACCESS_POLICY, Action.CREATE, pid(1024)),
    ]
