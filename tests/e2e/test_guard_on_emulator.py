"""The lockout guard keeps the rights the applier needs to apply and to plan again, proven against
the emulator's real authorization: what the guard allows can be planned again by the same
identity; what it refuses, forced through with --allow-lockout, really locks the applier out."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync_emulator import start_emulator
from tests.conftest import CONTOSO, CliResult, run_cli
from tests.signin import sign_in_as

PIPELINE = "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99"  # initial administrator of empty-state.json
FAST = {"HSMSYNC_RETRY_BACKOFF": "0.01", "HSMSYNC_HSM_RATE": "1000", "HSMSYNC_ARM_RATE": "1000"}
PIPELINE_ROLE = """\
roles:
  pipeline-role:
    hsm: contoso
    name: Pipeline Role
    data_actions:
      - Microsoft.KeyVault/managedHsm/roleAssignments/*
      - Microsoft.KeyVault/managedHsm/roleDefinitions/*
      - Microsoft.KeyVault/managedHsm/keys/read/action
{not_data_actions}
"""


def manifest(pipeline: str, *, roles: str = "") -> str:
    return f"""\
version: 1
principals:
  security: {{type: Group, id: 6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11}}
  auditors: {{type: Group, id: 3b7d9e1f-5c2a-4f88-b6d0-1e4a7c9b2f33}}
  pipeline: {{type: ServicePrincipal, id: {PIPELINE}}}
hsms:
  contoso:
    url: https://contosomhsm.managedhsm.azure.net
    resource_id: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG/providers/Microsoft.KeyVault/managedHSMs/ContosoMHSM
    prune: true
    prune_initial_admins: true
{roles}
teams:
  security:
    members: [security]
    data: [{{hsm: contoso, role: Managed HSM Administrator, scope: /}}]
  auditors:
    members: [auditors]
    data: [{{hsm: contoso, role: Crypto Auditor, scope: /}}]
  platform:
    members: [pipeline]
    data: {pipeline}
"""


class Run:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def __call__(self, *args: str) -> CliResult:
        return run_cli(*args, "--live", "--endpoints", "endpoints.json", cwd=self.dir, environ=FAST)

    def apply(self, text: str, *extra: str) -> CliResult:
        (self.dir / "hsmsync.yaml").write_text(text)
        return self("apply", "--auto-approve", *extra)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "emulated.json")
    emulator: Any
    with start_emulator(tmp_path / "emulated.json") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)
        yield Run(tmp_path)


ADMIN_AND_KEYS = "[{hsm: contoso, role: Managed HSM Administrator, scope: /}, {hsm: contoso, role: Crypto Auditor, scope: /keys}]"
OWN_ROLE = "[{hsm: contoso, role: pipeline-role, scope: /}]"


def test_plans_the_guard_allows_can_be_planned_again(run: Run):
    # Adding others, then swapping the built-in roles for its own custom role (make before break).
    for text in (
        manifest(ADMIN_AND_KEYS),
        manifest(OWN_ROLE, roles=PIPELINE_ROLE.format(not_data_actions="")),
    ):
        applied = run.apply(text)
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        again = run("plan", "--detailed-exitcode")
        assert again.exit_code == 0, again.stdout + again.stderr


def test_dropping_its_own_key_listing_is_refused_and_really_locks_it_out(run: Run):
    assert run.apply(manifest(ADMIN_AND_KEYS)).exit_code == 0
    admin_only = manifest("[{hsm: contoso, role: Managed HSM Administrator, scope: /}]")
    refused = run.apply(admin_only)
    assert refused.exit_code == 1
    assert "plan refused by the lockout guard" in refused.stderr
    assert (
        "keys/read/action at '/keys' (it holds it through Managed HSM Crypto Auditor), which it needs "
        "to list keys (it prunes)" in refused.stderr
    )
    forced = run.apply(admin_only, "--allow-lockout")
    assert forced.exit_code == 0, forced.stdout + forced.stderr
    after = run("plan")
    assert after.exit_code == 1 and "keys/read/action" in after.stderr


def test_narrowing_its_own_custom_role_is_refused_and_really_locks_it_out(run: Run):
    assert run.apply(manifest(OWN_ROLE, roles=PIPELINE_ROLE.format(not_data_actions=""))).exit_code == 0
    narrowed = manifest(
        OWN_ROLE,
        roles=PIPELINE_ROLE.format(
            not_data_actions="    not_data_actions: [Microsoft.KeyVault/managedHsm/roleAssignments/write/action]"
        ),
    )
    refused = run.apply(narrowed)
    assert refused.exit_code == 1
    assert "(update role definition Pipeline Role) would take from the applying identity" in refused.stderr
    assert "roleAssignments/write/action at '/' (it holds it through Pipeline Role)" in refused.stderr
    forced = run.apply(narrowed, "--allow-lockout")
    assert forced.exit_code == 0, forced.stdout + forced.stderr
    # The guard was right: the next change it would make is denied.
    more = narrowed.replace("role: Crypto Auditor, scope: /}", "role: Crypto Auditor, scope: /keys}")
    denied = run.apply(more)
    assert denied.exit_code == 1
    assert "roleAssignments/write/action" in denied.stdout + denied.stderr


def test_removing_its_own_administrator_is_refused(run: Run):
    assert run.apply(manifest(ADMIN_AND_KEYS)).exit_code == 0
    reader = manifest("[{hsm: contoso, role: Crypto Auditor, scope: /}]")
    refused = run.apply(reader)
    assert refused.exit_code == 1
    assert (
        "roleAssignments/write/action at '/' (it holds it through Managed HSM Administrator), which it "
        "needs to discover and manage its role assignments" in refused.stderr
    )


PLATFORM = "5a5a5a5a-1111-4222-8333-444444444444"  # a group the applier is in
ALICE = "a11ce000-2222-4333-8444-555555555555"  # a user applier
GROUP_ADMIN = "  group:\n    members: [platform]\n    data: [{hsm: contoso, role: Managed HSM Administrator, scope: /}]\n"


def _with_platform(text: str) -> str:
    """`text` with the platform group declared (a team granting it Administrator is GROUP_ADMIN)."""
    return text.replace(
        "  pipeline: {type: ServicePrincipal",
        f"  platform: {{type: Group, id: {PLATFORM}}}\n  pipeline: {{type: ServicePrincipal",
    )


def _state_with_platform(tmp_path: Path, *, member: str, admin_via_group_only: bool) -> None:
    """Contoso's fresh HSM with `member` in the platform group (in the directory), and the
    pipeline's rights moved to the group (or, with `admin_via_group_only=False`, its Administrator
    copied to it)."""
    state = json.loads((CONTOSO / "empty-state.json").read_text())
    state["directory"] += [{"id": PLATFORM, "type": "Group", "display_name": "platform"}]
    for o in state["directory"]:
        if o["id"] == member:
            o["member_of"] = [PLATFORM]
    assignments = state["hsms"]["contoso"]["role_assignments"]
    via_group = {**assignments[0], "name": "e0c1d2a3-0000-4000-8000-0000000000aa", "principal_id": PLATFORM}
    if admin_via_group_only:  # and its key listing too
        assignments[:] = [via_group, {**assignments[1], "principal_id": PLATFORM}]
    else:
        assignments.append(via_group)
    (tmp_path / "emulated.json").write_text(json.dumps(state))


def test_a_service_principals_group_gives_it_no_data_plane_rights(tmp_path: Path):
    # The Managed HSM data plane does not honour a service principal's group membership (Managed
    # HSM role-management doc, note), even where the directory (and ARM) know of it.
    _state_with_platform(tmp_path, member=PIPELINE, admin_via_group_only=True)
    group_admin = (
        _with_platform(manifest("[{hsm: contoso, role: Crypto Auditor, scope: /keys}]")) + GROUP_ADMIN
    )
    emulator: Any
    with start_emulator(tmp_path / "emulated.json") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)
        denied = Run(tmp_path).apply(group_admin)
        assert denied.exit_code == 1
        assert "not authorized" in denied.stderr and "roleDefinitions/read/action" in denied.stderr
        # Nor does the way out count the group's Administrator as the pipeline's own.
        assert "The manifest grants the applying identity (7c9e1a3b" in denied.stderr
        assert "no role with roledefinitions/read/action" in denied.stderr


def test_the_guard_does_not_count_a_service_principals_group_on_the_data_plane(tmp_path: Path):
    # Administrator directly and through the group: dropping the direct one leaves the pipeline
    # nothing on the data plane, so the guard refuses; forced through, it really is locked out.
    _state_with_platform(tmp_path, member=PIPELINE, admin_via_group_only=False)
    both = _with_platform(manifest(ADMIN_AND_KEYS)) + GROUP_ADMIN
    group_only = (
        _with_platform(manifest("[{hsm: contoso, role: Crypto Auditor, scope: /keys}]")) + GROUP_ADMIN
    )
    emulator: Any
    with start_emulator(tmp_path / "emulated.json") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)
        run = Run(tmp_path)
        applied = run.apply(both)
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        refused = run.apply(group_only)
        assert refused.exit_code == 1
        assert (
            "roleAssignments/write/action at '/' (it holds it through Managed HSM Administrator)"
            in refused.stderr
        )
        forced = run.apply(group_only, "--allow-lockout")
        assert forced.exit_code == 0, forced.stdout + forced.stderr
        # Its own read right went with it: the changes cannot be read back, and it does not wait.
        assert "changes, because the applying identity is denied the read" in forced.stdout
        after = run("plan")
        assert after.exit_code == 1 and "roleDefinitions/read/action" in after.stderr


def test_a_users_groups_in_its_token_count_and_the_guard_protects_them(tmp_path: Path):
    # A user whose token lists the platform group holds Administrator only through it: it can
    # manage the HSM, and the guard refuses to take the group's Administrator away.
    _state_with_platform(tmp_path, member=ALICE, admin_via_group_only=True)
    group_admin = _with_platform(manifest("[]")) + GROUP_ADMIN.replace(
        "scope: /}]", "scope: /}, {hsm: contoso, role: Crypto Auditor, scope: /keys}]"
    )
    emulator: Any
    with start_emulator(tmp_path / "emulated.json") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, ALICE, groups=[PLATFORM], bin_dir=tmp_path / "bin")
        run = Run(tmp_path)
        applied = run.apply(group_admin)
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        without_group = group_admin.replace("members: [platform]", "members: [security]")
        refused = run.apply(without_group)
        assert refused.exit_code == 1
        assert (
            "roleAssignments/write/action at '/' (it holds it through Managed HSM Administrator)"
            in refused.stderr
        )
