"""Property-based tests: the plan applied to live state yields the desired state, re-planning
yields nothing, and no malformed manifest escapes as anything but a ManifestError."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsmsync.core.compile import compile_manifest
from hsmsync.core.desired import assignment_key
from hsmsync.core.errors import ManifestError
from hsmsync.core.model import Manifest
from hsmsync.core.plan import Plane
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment, HsmState, LiveState
from hsmsync.core.state_edits import apply_to_state
from hsmsync.manifest import parse_manifest

PRINCIPALS = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, 7)]
ROLES = [
    "a290e904-7015-4bba-90c8-60543313cdb4",
    "21dbd100-6940-42c2-9190-5d6cb909625b",
    "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3",
]
SCOPES = ["/", "/keys", "/keys/k1", "/keys/k2"]
SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
ARM_SCOPES = [SUB, f"{SUB}/resourceGroups/rg"]
ARM_ROLES = ["acdd72a7-3385-48ef-bd42-f606fba81ae7", "18500a29-7fe2-46b2-a342-b16a415e101d"]
URL = "https://h.managedhsm.azure.net"
RID = f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h"

data_entry = st.tuples(st.sampled_from(ROLES), st.sampled_from(SCOPES))
arm_entry = st.tuples(st.sampled_from(ARM_ROLES), st.sampled_from(ARM_SCOPES))


@st.composite
def manifests(draw):
    teams = {}
    for t in range(draw(st.integers(0, 3))):
        members = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True))
        data = draw(st.lists(data_entry, max_size=4, unique=True))
        mgmt = draw(st.lists(arm_entry, max_size=2, unique=True))
        teams[f"t{t}"] = {
            "members": [f"p{m}" for m in members],
            "data": [{"hsm": "h", "role": r, "scope": s} for r, s in data],
            "management": [{"role": r, "scope": s} for r, s in mgmt],
        }
    doc = {
        "version": 1,
        "principals": {f"p{i}": {"type": "Group", "id": pid} for i, pid in enumerate(PRINCIPALS)},
        "hsms": {"h": {"url": URL, "resource_id": RID, "prune": draw(st.booleans())}},
        "teams": teams,
        "management": {"prune": draw(st.booleans())},
    }
    return compile_manifest(Manifest.model_validate(doc))


@st.composite
def live_states(draw):
    n = draw(st.integers(0, 8))
    data = [
        DataRoleAssignment(
            name=f"00000000-0000-4000-8000-{i:012x}",
            scope=draw(st.sampled_from(SCOPES)),
            role_definition_id=draw(st.sampled_from(ROLES)),
            principal_id=draw(st.sampled_from(PRINCIPALS)),
        )
        for i in range(n)
    ]
    arm = [
        ArmRoleAssignment(
            name=f"10000000-0000-4000-8000-{i:012x}",
            scope=draw(st.sampled_from(ARM_SCOPES)),
            role_definition_id=draw(st.sampled_from(ARM_ROLES)),
            principal_id=draw(st.sampled_from(PRINCIPALS)),
            principal_type="Group",
        )
        for i in range(draw(st.integers(0, 4)))
    ]
    hsm = HsmState(url=URL, resource_id=RID, role_assignments=tuple(data))
    return LiveState(hsms={"h": hsm}, arm={"role_assignments": tuple(arm)})


def _keys(state: LiveState) -> set[tuple[str, ...]]:
    keys: set[tuple[str, ...]] = {
        assignment_key(Plane.DATA, "h", a.scope, a.role_definition_id, a.principal_id)
        for a in state.hsms["h"].role_assignments
    }
    keys |= {
        assignment_key(Plane.MANAGEMENT, "arm", a.scope, a.role_definition_id, a.principal_id)
        for a in state.arm.role_assignments
    }
    return keys


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests(), live_states())
def test_applied_plan_reaches_desired_state_and_replans_empty(desired, live):
    plan = plan_changes(desired, live)
    after = live
    for change in plan.changes:
        after, _ = apply_to_state(after, change)
    assert plan_changes(desired, after).is_empty
    wanted = {a.key for a in desired.assignments}
    assert wanted <= _keys(after)
    if desired.hsms["h"].prune:
        data_after = {k for k in _keys(after) if k[0] == "data"}
        assert data_after == {k for k in wanted if k[0] == "data"}
    else:  # unmanaged assignments are untouched
        assert {a.name for a in live.hsms["h"].role_assignments} <= {
            a.name for a in after.hsms["h"].role_assignments
        }


@settings(max_examples=50, deadline=None)
@given(manifests(), live_states())
def test_plan_is_deterministic(desired, live):
    assert plan_changes(desired, live).to_dict() == plan_changes(desired, live).to_dict()


yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["/", "/keys", "Group", "h", "p1", PRINCIPALS[0]]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "principals",
                    "hsms",
                    "teams",
                    "roles",
                    "type",
                    "id",
                    "url",
                    "members",
                    "data",
                    "role",
                    "scope",
                    "hsm",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(yaml_values)
def test_any_document_is_a_manifest_or_a_manifest_error(doc):
    text = yaml.safe_dump(doc)
    try:
        parse_manifest(text, Path("gen.yaml"))
    except ManifestError as exc:
        assert str(exc).startswith("gen.yaml:")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_manifest_or_a_manifest_error(text):
    try:
        parse_manifest(text, Path("gen.yaml"))
    except ManifestError as exc:
        assert "gen.yaml:" in str(exc)
