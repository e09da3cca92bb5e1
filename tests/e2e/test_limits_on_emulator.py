"""Issue 10 item 4 on the emulator, through the real SDK: swapping one member on a key that already
holds 10 assignments (the service's limit) applies, deleting first, where make-before-break would
fail with RoleAssignmentLimitExceeded on every rerun."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from hsmsync.core.state import ArmRoleAssignment, DataRoleAssignment
from hsmsync_emulator import parse_faults, start_emulator
from hsmsync_files.statefile import read_state_file, write_state_file
from tests.conftest import run_cli
from tests.live.conftest import (
    ADMIN,
    ADMINISTRATOR,
    CONTRIBUTOR,
    CRYPTO_AUDITOR,
    CRYPTO_USER,
    HSM_RID,
    HSM_URL,
    SUB,
    endpoints_for,
    initial_state,
)

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def pid(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"signer-{i}"))


def _manifest(members: range) -> str:
    principals = "\n".join(f"  s{i}: {{type: Group, id: {pid(i)}}}" for i in members)
    return f"""\
version: 1
principals:
  pipeline: {{type: ServicePrincipal, id: {ADMIN}}}
{principals}
hsms:
  contoso: {{url: {HSM_URL}, resource_id: {HSM_RID}, prune: true}}
teams:
  platform:
    members: [pipeline]
    data:
      - {{hsm: contoso, role: Administrator, scope: /}}
      - {{hsm: contoso, role: Crypto Auditor, scope: /}}
  signers:
    members: [{", ".join(f"s{i}" for i in members)}]
    data: [{{hsm: contoso, role: Crypto User, scope: /keys/k1}}]
"""


def _write_full_key_state(directory: Path) -> None:
    """The pipeline administers the HSM; key k1 holds 10 Crypto User assignments: the limit."""
    start = initial_state()
    hsm = start.hsms["contoso"]
    admin_only = tuple(a for a in hsm.role_assignments if a.principal_id == ADMIN)
    signers = tuple(
        DataRoleAssignment(
            name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"ra-{i}")),
            scope="/keys/k1",
            role_definition_id=CRYPTO_USER,
            principal_id=pid(i),
        )
        for i in range(10)
    )
    assert {a.role_definition_id for a in admin_only} == {ADMINISTRATOR, CRYPTO_AUDITOR}
    state = start.model_copy(
        update={"hsms": {"contoso": hsm.model_copy(update={"role_assignments": (*admin_only, *signers)})}}
    )
    write_state_file(directory / "state.json", state)


def _plan_apply_replan(directory: Path) -> list[dict[str, Any]]:
    """On the emulator through the live backend: the plan's changes; apply succeeds, then no changes."""
    with start_emulator(directory / "state.json", faults=parse_faults("throttle=0")) as emu:
        endpoints_for(emu, directory / "endpoints.json")
        live = ("--live", "--endpoints", "endpoints.json")
        plan = run_cli("plan", *live, "--format", "json", cwd=directory)
        assert plan.exit_code == 0, plan.stderr
        applied = run_cli("apply", *live, "--auto-approve", cwd=directory)
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        again = run_cli("plan", *live, "--detailed-exitcode", cwd=directory)
        assert again.exit_code == 0, again.stdout + again.stderr
    changes: list[dict[str, Any]] = json.loads(plan.stdout)["changes"]
    return changes


def test_swap_on_a_full_key_applies_delete_first(tmp_path: Path):
    _write_full_key_state(tmp_path)
    (tmp_path / "hsmsync.yaml").write_text(_manifest(range(1, 11)))  # s0 leaves, s10 joins
    changes = _plan_apply_replan(tmp_path)
    assert [(c["action"], c["principal"]) for c in changes] == [("delete", None), ("create", "s10")]
    assert "deleted before the creates" in changes[0]["reason"]
    at_key = {
        a.principal_id
        for a in read_state_file(tmp_path / "state.json").hsms["contoso"].role_assignments
        if a.scope == "/keys/k1"
    }
    assert at_key == {pid(i) for i in range(1, 11)}


def test_a_swap_that_cannot_fit_is_refused_at_plan_time(tmp_path: Path):
    _write_full_key_state(tmp_path)
    (tmp_path / "hsmsync.yaml").write_text(_manifest(range(11)))  # 11 at one key
    with start_emulator(tmp_path / "state.json", faults=parse_faults("throttle=0")) as emu:
        endpoints_for(emu, tmp_path / "endpoints.json")
        plan = run_cli("plan", "--live", "--endpoints", "endpoints.json", cwd=tmp_path)
    assert plan.exit_code == 1
    assert (
        "role assignments at /keys/k1 on contoso: 10 now, 11 after this plan; the limit per key is 10"
        in plan.stderr
    )


def test_at_4000_assignments_in_the_subscription_an_arm_swap_deletes_first(tmp_path: Path):
    ops = pid(99)
    start = initial_state()
    fillers = tuple(
        ArmRoleAssignment(
            name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"filler-{i}")),
            scope=f"/subscriptions/{SUB}/resourceGroups/other{i % 5}",
            role_definition_id=READER,
            principal_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"someone-{i}")),
            principal_type="Group",
        )
        for i in range(3998)
    )
    old = ArmRoleAssignment(
        name=str(uuid.uuid5(uuid.NAMESPACE_URL, "ops-old")),
        scope=HSM_RID,
        role_definition_id=CONTRIBUTOR,
        principal_id=ops,
        principal_type="Group",
    )
    arm = start.arm.model_copy(update={"role_assignments": (*start.arm.role_assignments, old, *fillers)})
    assert len(arm.role_assignments) == 4000  # the subscription is full
    write_state_file(tmp_path / "state.json", start.model_copy(update={"arm": arm}))
    (tmp_path / "hsmsync.yaml").write_text(
        f"""\
version: 1
principals:
  ops: {{type: Group, id: {ops}}}
hsms:
  contoso: {{url: {HSM_URL}, resource_id: {HSM_RID}}}
teams:
  ops:
    members: [ops]
    management: [{{role: Reader, scope: {HSM_RID}}}]
management: {{prune: true}}
"""
    )
    changes = _plan_apply_replan(tmp_path)
    assert [(c["action"], c["role_id"]) for c in changes] == [("delete", CONTRIBUTOR), ("create", READER)]
    assert "Azure role assignments in subscription" in changes[0]["reason"]
    held = {
        a.role_definition_id
        for a in read_state_file(tmp_path / "state.json").arm.role_assignments
        if a.principal_id == ops
    }
    assert held == {READER}
