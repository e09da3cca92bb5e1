"""A saved plan through the live backend (emulator): applied only when it is the plan the manifest
gives against current live state; a forged or foreign plan file changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from hsmsync_emulator import start_emulator
from tests.conftest import CONTOSO, run_cli
from tests.e2e.test_guard_on_emulator import ADMIN_AND_KEYS, FAST, PIPELINE, manifest
from tests.signin import sign_in_as

ADMINISTRATOR = "a290e904-7015-4bba-90c8-60543313cdb4"
ATTACKER = "66666666-6666-4666-8666-666666666666"


def test_forged_and_foreign_plans_are_refused_and_an_honest_one_applies(tmp_path: Path):
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "emulated.json")
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "fake.json")
    (tmp_path / "hsmsync.yaml").write_text(manifest(ADMIN_AND_KEYS))
    live = ("--live", "--endpoints", "endpoints.json")
    emulator: Any
    with start_emulator(tmp_path / "emulated.json") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)

        def cli(*args: str) -> Any:
            return run_cli(*args, cwd=tmp_path, environ=FAST)

        assert cli("plan", *live, "--out", "plan.json").exit_code == 0
        honest = json.loads((tmp_path / "plan.json").read_text())
        forged = json.loads(json.dumps(honest))
        extra = dict(forged["changes"][0])
        extra.update(
            order=len(forged["changes"]) + 1,
            role="Managed HSM Administrator",
            role_id=ADMINISTRATOR,
            principal="auditors",  # a label the reviewer trusts; the id is the attacker's
            principal_id=ATTACKER,
            name="12345678-1234-4234-8234-123456789012",
            id=f"data:contoso:role_assignment:/:{ADMINISTRATOR}:{ATTACKER}",
        )
        forged["changes"].append(extra)
        (tmp_path / "forged.json").write_text(json.dumps(forged))
        before = (tmp_path / "emulated.json").read_text()
        refused = cli("apply", "forged.json", *live, "--auto-approve")
        assert refused.exit_code == 1
        assert (
            f"Managed HSM Administrator -> auditors (role id {ADMINISTRATOR}, principal id {ATTACKER}) at / "
            "is not in the plan computed from hsmsync.yaml" in refused.stderr
        )
        # A plan made against the fake backend never goes to the live one, nor the other way round.
        assert cli("plan", "--state", "fake.json", "--out", "fake-plan.json").exit_code == 0
        wrong = cli("apply", "fake-plan.json", *live, "--auto-approve")
        assert wrong.exit_code == 1 and "but this apply would go to live Azure through" in wrong.stderr
        other = cli("apply", "plan.json", "--state", "fake.json", "--auto-approve")
        assert other.exit_code == 1 and "it was made against live Azure through the endpoints" in other.stderr
        assert (tmp_path / "emulated.json").read_text() == before
        applied = cli("apply", "plan.json", *live, "--auto-approve")
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        assert cli("plan", *live, "--detailed-exitcode").exit_code == 0
