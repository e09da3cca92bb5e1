"""Role definitions keep their permission blocks, and every question is answered block by block.

Azure evaluates each block of `permissions` on its own: a block's notDataActions subtract only
from that block's dataActions, and the role allows what any block allows. Merging the blocks
(what hsmsync did before) let one block's exclusions remove what another block grants.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from hsmsync.core.access import effective_data_actions, explain, grants_from_live, who_can
from hsmsync.core.capabilities import permits
from hsmsync.core.compile import compile_manifest
from hsmsync.core.errors import ManifestError
from hsmsync.core.export import export_manifest
from hsmsync.core.guard import check_lockout
from hsmsync.core.lint import lint
from hsmsync.core.model import Manifest
from hsmsync.core.plan import Action, Kind
from hsmsync.core.plan_io import plan_from_dict
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import (
    ArmRoleAssignment,
    ArmRoleDefinition,
    LiveState,
    Permission,
    RoleDefinition,
    VaultState,
)

from .builders import ADMIN, ALICE, BOB, RG, RID, assignment, live, manifest

P = "Microsoft.KeyVault/managedHsm/"
SIGN = P + "keys/sign/action"
EXPORT = P + "keys/export/action"
WRITE_ASSIGNMENTS = P + "roleAssignments/write/action"
CUSTOM = "99999999-0000-0000-0000-000000000001"

# Block 1 grants every key action except sign; block 2 grants sign. Azure: the role can sign.
EVERYTHING_BUT_SIGN = Permission(data_actions=(P + "keys/*",), not_data_actions=(SIGN,))
SIGN_ONLY = Permission(data_actions=(SIGN,))


def role(*blocks: Permission, name: str = CUSTOM, role_name: str = "Blocks") -> RoleDefinition:
    return RoleDefinition(name=name, role_name=role_name, permissions=blocks)


class TestEvaluation:
    def test_a_block_exclusion_does_not_remove_what_another_block_grants(self) -> None:
        blocks = (EVERYTHING_BUT_SIGN, SIGN_ONLY)
        assert permits(blocks, SIGN, data=True)
        assert SIGN in effective_data_actions(role(*blocks))

    def test_an_exclusion_still_applies_within_its_own_block(self) -> None:
        blocks = (EVERYTHING_BUT_SIGN, Permission(data_actions=(P + "keys/read/action",)))
        assert not permits(blocks, SIGN, data=True)
        assert SIGN not in effective_data_actions(role(*blocks))
        assert P + "keys/read/action" in effective_data_actions(role(*blocks))

    def test_management_actions_are_evaluated_per_block_too(self) -> None:
        blocks = (
            Permission(actions=("Microsoft.KeyVault/*",), not_actions=("Microsoft.KeyVault/vaults/write",)),
            Permission(actions=("Microsoft.KeyVault/vaults/write",)),
        )
        assert permits(blocks, "Microsoft.KeyVault/vaults/write", data=False)
        assert not permits(blocks, "Microsoft.KeyVault/vaults/write", data=True)


class TestStateFiles:
    def test_blocks_round_trip_through_the_state_file(self) -> None:
        state = live(roles=(role(EVERYTHING_BUT_SIGN, SIGN_ONLY),))
        again = LiveState.model_validate_json(state.model_dump_json())
        assert again.hsms["h1"].role_definitions[0].permissions == (EVERYTHING_BUT_SIGN, SIGN_ONLY)

    def test_flat_lists_of_older_state_files_load_as_one_block(self) -> None:
        old = {"name": CUSTOM, "data_actions": [SIGN], "not_data_actions": []}
        assert RoleDefinition.model_validate(old).permissions == (SIGN_ONLY,)
        arm = {"name": CUSTOM, "role_name": "r", "actions": ["*/read"]}
        assert ArmRoleDefinition.model_validate(arm).permissions == (Permission(actions=("*/read",)),)

    def test_flat_lists_and_blocks_together_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="not both"):
            RoleDefinition.model_validate({"name": CUSTOM, "data_actions": [SIGN], "permissions": []})


BLOCKS_YAML = [
    {"data_actions": ["keys/*"], "not_data_actions": ["keys/sign/action"]},
    {"data_actions": ["keys/sign/action"]},
]


def _manifest_role(**fields: object) -> dict[str, object]:
    return {"hsm": "h1", "name": "Signer", **fields}


class TestManifest:
    def test_permissions_list_resolves_to_separate_blocks(self) -> None:
        desired = manifest(roles={"signer": _manifest_role(permissions=BLOCKS_YAML)})
        (custom,) = desired.hsms["h1"].custom_roles
        assert custom.permissions == (EVERYTHING_BUT_SIGN, SIGN_ONLY)

    def test_flat_form_is_one_block(self) -> None:
        desired = manifest(roles={"signer": _manifest_role(data_actions=["keys/sign/action"])})
        assert desired.hsms["h1"].custom_roles[0].permissions == (SIGN_ONLY,)

    @pytest.mark.parametrize(
        "fields",
        [
            {"permissions": BLOCKS_YAML, "data_actions": ["keys/read/action"]},
            {"permissions": BLOCKS_YAML, "not_data_actions": ["keys/read/action"]},
        ],
    )
    def test_both_forms_together_are_an_error(self, fields: dict[str, object]) -> None:
        with pytest.raises(ValidationError, match="not both"):
            manifest(roles={"signer": _manifest_role(**fields)})

    def test_neither_form_is_an_error(self) -> None:
        with pytest.raises(ValidationError, match="give `data_actions`"):
            manifest(roles={"signer": _manifest_role()})

    def test_a_bad_action_in_a_block_names_the_block(self) -> None:
        blocks = [{"data_actions": ["keys/read/action"]}, {"data_actions": ["keys/sgin/action"]}]
        with pytest.raises(ManifestError) as exc:
            manifest(roles={"signer": _manifest_role(permissions=blocks)})
        assert ("roles", "signer", "permissions", 1, "data_actions", 0) in [p.loc for p in exc.value.problems]

    def test_a_custom_azure_role_takes_one_block(self) -> None:
        doc: dict[str, Any] = {
            "version": 1,
            "arm_roles": {
                "r": {
                    "name": "R",
                    "assignable_scopes": [RG],
                    "permissions": [{"actions": ["*/read"]}, {"actions": ["Microsoft.KeyVault/*"]}],
                }
            },
        }
        with pytest.raises(ValidationError, match="exactly one permission block"):
            Manifest.model_validate(doc)
        doc["arm_roles"]["r"]["permissions"] = [{"actions": ["*/read"], "not_actions": ["x/read"]}]
        (arm,) = compile_manifest(Manifest.model_validate(doc)).arm_roles
        assert arm.permissions == (Permission(actions=("*/read",), not_actions=("x/read",)),)


class TestPlanner:
    def test_merged_lists_equal_to_the_manifest_still_differ_in_what_they_grant(self) -> None:
        """Live grants export through block 2; the manifest's one block excludes it. Merged, both
        read `keys/* + export, not export`: the old planner said "no changes"."""
        flat = {"data_actions": ["keys/*", "keys/export/action"], "not_data_actions": ["keys/export/action"]}
        desired = manifest(roles={"x": _manifest_role(**flat)})
        guid = desired.hsms["h1"].custom_roles[0].name
        live_role = role(
            Permission(data_actions=(P + "keys/*",), not_data_actions=(EXPORT,)),
            Permission(data_actions=(EXPORT,)),
            name=guid,
            role_name="Signer",
        )
        (change,) = plan_changes(desired, live(roles=(live_role,))).changes
        assert (change.action, change.kind) == (Action.UPDATE, Kind.ROLE_DEFINITION)
        assert change.removed_data_actions == (EXPORT,) and change.added_data_actions == ()
        assert [f.path for f in change.field_changes] == [
            "permissions[0].data_actions",
            "permissions[1].data_actions",
        ]

    def test_a_multi_block_role_in_sync_plans_nothing_and_an_update_keeps_its_blocks(self) -> None:
        desired = manifest(roles={"s": _manifest_role(permissions=BLOCKS_YAML)})
        (custom,) = desired.hsms["h1"].custom_roles
        assert plan_changes(desired, live(roles=(custom,))).is_empty
        stale = custom.model_copy(update={"permissions": custom.permissions[:1]})
        (change,) = plan_changes(desired, live(roles=(stale,))).changes
        assert change.definition is not None and change.definition.permissions == custom.permissions
        assert change.added_data_actions == (SIGN,)
        assert "role gains: use keys (sign)" in change.risks  # exactly the action gained (issue 9, item 12)
        saved = plan_from_dict(plan_changes(desired, live(roles=(stale,))).to_dict())
        assert saved.changes[0].definition == change.definition

    def test_creating_a_multi_block_role_flags_what_any_block_grants(self) -> None:
        desired = manifest(roles={"s": _manifest_role(permissions=BLOCKS_YAML)})
        (change,) = plan_changes(desired, live()).changes
        assert SIGN in change.added_data_actions
        assert "role gains: use keys (sign, verify, encrypt, decrypt, wrap, unwrap)" in change.risks


# Block 1: role assignments except writing them; block 2: writing them.
ASSIGNER = role(
    Permission(data_actions=(P + "roleAssignments/*",), not_data_actions=(WRITE_ASSIGNMENTS,)),
    Permission(data_actions=(WRITE_ASSIGNMENTS,)),
    role_name="Assigner",
)


class TestGuard:
    def test_a_holder_through_another_block_keeps_the_hsm_manageable(self) -> None:
        state = live(assignment(1, "/", ADMIN, ALICE), assignment(2, "/", CUSTOM, BOB), roles=(ASSIGNER,))
        plan = plan_changes(manifest(prune=True, roles={}), state)
        assert any(c.action is Action.DELETE and c.role_id == ADMIN for c in plan.changes)
        # The plan also deletes the undeclared custom role; BOB's right goes with it: refused.
        assert check_lockout(plan, state) != []
        kept = plan.__class__(changes=tuple(c for c in plan.changes if c.role_id == ADMIN))
        assert check_lockout(kept, state) == []

    def test_the_exclusion_within_the_block_still_counts(self) -> None:
        only_block_1 = ASSIGNER.model_copy(update={"permissions": ASSIGNER.permissions[:1]})
        state = live(assignment(1, "/", ADMIN, ALICE), assignment(2, "/", CUSTOM, BOB), roles=(only_block_1,))
        plan = plan_changes(manifest(prune=True), state)
        kept = plan.__class__(changes=tuple(c for c in plan.changes if c.role_id == ADMIN))
        assert check_lockout(kept, state) != []


SIGNER = role(EVERYTHING_BUT_SIGN, SIGN_ONLY, role_name="Signer")


class TestReviews:
    def test_whocan_and_explain_see_sign_granted_by_the_second_block(self) -> None:
        state = live(assignment(2, "/keys/k1", CUSTOM, BOB), roles=(SIGNER,))
        grants = grants_from_live(state, manifest().principals)
        assert [p.principal for p in who_can(grants, "h1", SIGN, "k1")] == ["bob"]
        [item] = explain(grants, BOB, None).grants
        assert "sign" in item.summary

    def test_lint_rates_a_multi_block_custom_role_by_what_any_block_grants(self) -> None:
        doc = {
            "version": 1,
            "principals": {"bob": {"type": "ServicePrincipal", "id": BOB}},
            "hsms": {"h1": {"url": "https://h1.managedhsm.azure.net", "resource_id": RID}},
            "roles": {
                "s": _manifest_role(
                    permissions=[
                        {"data_actions": ["keys/read/action"]},
                        {"data_actions": ["keys/sign/action"]},
                    ]
                )
            },
            "teams": {"t": {"members": ["bob"], "data": [{"hsm": "h1", "role": "s", "scope": "/keys"}]}},
        }
        m = Manifest.model_validate(doc)
        hits = [f for f in lint(m, compile_manifest(m)).findings if f.rule_id == "HSM003"]
        assert [f.target for f in hits] == ["bob"]

    def test_vault_write_is_judged_block_by_block_for_custom_azure_roles(self) -> None:
        vault_rid = f"{RG}/providers/Microsoft.KeyVault/vaults/v1"
        reader = ArmRoleDefinition(
            name=CUSTOM,
            role_name="KV reader",
            permissions=(
                Permission(
                    actions=("Microsoft.KeyVault/*",), not_actions=("Microsoft.KeyVault/vaults/write",)
                ),
            ),
            assignable_scopes=(RG,),
        )
        doc = {
            "version": 1,
            "principals": {"bob": {"type": "ServicePrincipal", "id": BOB}},
            "vaults": {"v1": {"url": "https://v1.vault.azure.net", "resource_id": vault_rid}},
        }
        m = Manifest.model_validate(doc)
        assign = ArmRoleAssignment(
            name="00000000-0000-0000-0000-000000000005", scope=RG, role_definition_id=CUSTOM, principal_id=BOB
        )

        def hsm005(custom: ArmRoleDefinition) -> list[str]:
            state = LiveState(
                vaults={"v1": VaultState(url="https://v1.vault.azure.net", resource_id=vault_rid)},
                arm={"role_assignments": (assign,), "role_definitions": (custom,)},
            )
            findings = lint(m, compile_manifest(m), live=state).findings
            return [f.target for f in findings if f.rule_id == "HSM005"]

        assert hsm005(reader) == []
        writer = reader.model_copy(
            update={
                "permissions": (*reader.permissions, Permission(actions=("Microsoft.KeyVault/vaults/write",)))
            }
        )
        assert hsm005(writer) == ["bob"]


class TestExport:
    def test_a_multi_block_role_exports_as_permissions_and_round_trips(self) -> None:
        state = live(assignment(2, "/keys/k1", CUSTOM, BOB), roles=(SIGNER,))
        doc = yaml.safe_load(yaml.safe_dump(export_manifest(state, hsms=["h1"]).document))
        (body,) = doc["roles"].values()
        assert body["permissions"] == [
            {"data_actions": [P + "keys/*"], "not_data_actions": [SIGN]},
            {"data_actions": [SIGN]},
        ]
        desired = compile_manifest(Manifest.model_validate(doc))
        assert desired.hsms["h1"].custom_roles[0].permissions == SIGNER.permissions
