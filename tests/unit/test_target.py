"""An HSM named `arm` is an HSM (issue 11): targets are typed, not the magic string "arm"."""

from __future__ import annotations

import json

import pytest

from hsmsync.applier import stages
from hsmsync.backends.registry import read_request_for
from hsmsync.core.compile import compile_manifest
from hsmsync.core.desired import DesiredState
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.model import Manifest
from hsmsync.core.plan import Kind, Plane
from hsmsync.core.plan_io import plan_from_dict
from hsmsync.core.planner import plan_changes
from hsmsync.core.review import PlanReview
from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment, HsmState, LiveState
from hsmsync.core.target import ARM, Target, TargetKind
from hsmsync.render.text import render_plan
from tests.unit.builders import ALICE, AUDITOR, BOB, RG

ARM_HSM_URL = "https://arm.managedhsm.azure.net"
ARM_HSM_RID = f"{RG}/providers/Microsoft.KeyVault/managedHSMs/arm"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def _desired(*, prune: bool, mgmt_prune: bool = False, settings: bool = False) -> DesiredState:
    hsm: dict[str, object] = {"url": ARM_HSM_URL, "resource_id": ARM_HSM_RID, "prune": prune}
    if settings:
        hsm["settings"] = {"public_network_access": "Disabled"}
    doc = {
        "version": 1,
        "principals": {"alice": {"type": "User", "id": ALICE}, "bob": {"type": "User", "id": BOB}},
        "hsms": {"arm": hsm},
        "teams": {
            "ops": {
                "members": ["alice"],
                "data": [{"hsm": "arm", "role": "Managed HSM Crypto User", "scope": "/"}],
                "management": [{"role": "Contributor", "scope": RG}],
            }
        },
        "management": {"prune": mgmt_prune},
    }
    return compile_manifest(Manifest.model_validate(doc))


def _live() -> LiveState:
    stray = DataRoleAssignment(
        name="00000000-0000-0000-0000-000000000009", scope="/", role_definition_id=AUDITOR, principal_id=BOB
    )
    arm_stray = ArmRoleAssignment(
        name="00000000-0000-0000-0000-000000000008",
        scope=RG,
        role_definition_id=CONTRIBUTOR,
        principal_id=BOB,
    )
    hsm = HsmState(url=ARM_HSM_URL, resource_id=ARM_HSM_RID, role_assignments=(stray,))
    return LiveState(hsms={"arm": hsm}, arm={"role_assignments": (arm_stray,)})


def test_an_hsm_named_arm_is_listed_as_that_hsm_not_as_azure_rbac() -> None:
    plan = plan_changes(_desired(prune=False), _live())
    assert [(u.plane, u.target) for u in plan.unmanaged] == [
        (Plane.DATA, Target.hsm("arm")),
        (Plane.MANAGEMENT, ARM),
    ]
    text = render_plan(PlanReview(plan))
    assert "? arm: Managed HSM Crypto Auditor -> bob at /" in text
    assert "? Azure RBAC: Contributor -> bob at " in text  # the catalog has Contributor's real GUID
    assert "Azure RBAC: Managed HSM Crypto Auditor" not in text
    assert [u["target"] for u in plan.to_dict()["unmanaged"]] == ["arm", "arm"]  # the plan JSON is unchanged


def test_an_hsm_named_arm_that_prunes_does_not_widen_arm_discovery() -> None:
    request = read_request_for(_desired(prune=True, mgmt_prune=False))
    assert request.full_discovery == frozenset({"arm"})  # the HSM named arm
    assert request.arm_full_discovery is False
    assert read_request_for(_desired(prune=False, mgmt_prune=True)).arm_full_discovery is True


def test_an_hsm_named_arm_and_azure_rbac_are_separate_apply_lanes() -> None:
    plan = plan_changes(_desired(prune=False), LiveState(hsms={"arm": HsmState(url=ARM_HSM_URL)}))
    targets = {c.target for c in plan.changes}
    assert targets == {Target.hsm("arm"), ARM}
    [lanes] = stages(plan.changes)
    assert len(lanes) == 2


def test_saved_plan_reads_an_hsm_named_arm_back_as_that_hsm() -> None:
    live = LiveState(hsms={"arm": HsmState(url=ARM_HSM_URL, resource_id=ARM_HSM_RID)})
    plan = plan_changes(_desired(prune=False, settings=True), live)
    by_kind = {(c.kind, c.plane): c.target for c in plan.changes}
    assert by_kind[(Kind.SETTING, Plane.MANAGEMENT)] == Target.hsm("arm")
    assert by_kind[(Kind.ROLE_ASSIGNMENT, Plane.DATA)] == Target.hsm("arm")
    assert by_kind[(Kind.ROLE_ASSIGNMENT, Plane.MANAGEMENT)] == ARM
    again = plan_from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.changes == plan.changes
    assert again.to_dict() == plan.to_dict()


def test_saved_plan_order_is_the_position() -> None:
    plan = plan_changes(_desired(prune=False), LiveState(hsms={"arm": HsmState(url=ARM_HSM_URL)}))
    data = plan.to_dict()
    assert [c["order"] for c in data["changes"]] == [1, 2]
    data["changes"].reverse()
    with pytest.raises(HsmsyncError, match="order"):
        plan_from_dict(data)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("arm", TargetKind.HSM, Target.hsm("arm")),
        ("arm", TargetKind.ARM, ARM),
        ("vault:kv1", TargetKind.VAULT, Target.vault("kv1")),
    ],
)
def test_targets_keep_their_plan_json_spelling(text: str, kind: TargetKind, expected: Target) -> None:
    from hsmsync.core.target import parse_target

    assert parse_target(text, kind) == expected
    assert str(expected) == expected.key == text


def test_a_target_of_the_wrong_kind_is_refused() -> None:
    from hsmsync.core.target import parse_target

    for text, kind in (("h1", TargetKind.ARM), ("h1", TargetKind.VAULT), ("vault:kv1", TargetKind.HSM)):
        with pytest.raises(ValueError, match="target"):
            parse_target(text, kind)


def test_a_saved_plan_may_not_rename_what_a_kind_writes() -> None:
    live = LiveState(hsms={"arm": HsmState(url=ARM_HSM_URL, resource_id=ARM_HSM_RID)})
    data = plan_changes(_desired(prune=False, settings=True), live).to_dict()
    [setting] = [c for c in data["changes"] if c["kind"] == "setting"]
    setting["role"] = "something else"
    with pytest.raises(HsmsyncError, match="role"):
        plan_from_dict(data)
