"""The lockout guard against the emulator, whose authorization is real: without the guard,
the applying identity genuinely locks itself out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hsmsync_emulator import start_emulator
from tests.conftest import CONTOSO, run_cli
from tests.signin import sign_in_as

PIPELINE = "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99"  # the initial administrator of empty-state.json
MANIFEST = """\
version: 1
principals:
  auditors: {type: Group, id: 3b7d9e1f-5c2a-4f88-b6d0-1e4a7c9b2f33}
hsms:
  contoso:
    url: https://contosomhsm.managedhsm.azure.net
    resource_id: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG/providers/Microsoft.KeyVault/managedHSMs/ContosoMHSM
    prune: true
    prune_initial_admins: true   # the pipeline's own Administrator grant is not declared: it would go
teams:
  auditors:
    members: [auditors]
    data: [{hsm: contoso, role: Crypto Auditor, scope: /}]
"""


def _live(*args: str) -> tuple[str, ...]:
    return (*args, "--live", "--endpoints", "endpoints.json")


def test_guard_refuses_and_without_it_the_applier_is_locked_out(tmp_path: Path):
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "emulated.json")
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST)
    with start_emulator(tmp_path / "emulated.json") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)
        refused = run_cli(*_live("apply", "--auto-approve"), cwd=tmp_path)
        assert refused.exit_code == 1
        assert "plan refused by the lockout guard" in refused.stderr
        assert "after this plan nobody could manage role assignments at '/'" in refused.stderr
        # It also names the applier's own loss of rights, found from the token's oid.
        assert "removes the applying identity's own" in refused.stderr
        # Nothing was applied.
        state = json.loads((tmp_path / "emulated.json").read_text())
        assert PIPELINE in {a["principal_id"] for a in state["hsms"]["contoso"]["role_assignments"]}

        # Overridden, the emulator really locks the applier out half-way, as the guard said.
        forced = run_cli(*_live("apply", "--auto-approve", "--allow-lockout"), cwd=tmp_path)
        assert forced.exit_code == 1
        assert "[applied] delete role_assignment contoso /: Managed HSM Administrator" in forced.stdout
        assert "it needs 'Microsoft.KeyVault/managedHsm/roleAssignments/delete/action'" in forced.stdout
        after = run_cli(*_live("plan"), cwd=tmp_path)
        assert after.exit_code == 1
        assert "permission denied" in after.stderr
        assert "roleDefinitions/read/action" in after.stderr or "roleAssignments/read/action" in after.stderr
