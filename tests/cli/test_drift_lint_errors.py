"""Issue 9 item 9 (second half): a new unmanaged grant that lint rates an error is drift by default."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

RG = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG"
SECURITY_TEAM = "6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _converge_then_add_arm(contoso: Path, role: str) -> None:
    assert run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso).exit_code == 0
    data = json.loads((contoso / "state.json").read_text())
    data["arm"]["role_assignments"].append(
        {
            "name": "99999999-9999-4999-8999-999999999999",
            "scope": RG,
            "role_definition_id": role,
            "principal_id": SECURITY_TEAM,
            "principal_type": "Group",
        }
    )
    (contoso / "state.json").write_text(json.dumps(data))


def test_an_out_of_band_owner_over_an_access_policy_vault_is_drift(contoso: Path):
    _converge_then_add_arm(contoso, OWNER)
    text = run_cli("drift", "--state", "state.json", cwd=contoso)
    assert text.exit_code == 2, text.stdout
    assert "1 drifted, 1 unmanaged" in text.stdout
    assert "! Azure RBAC: Owner -> security-team at " in text.stdout and "lint HSM005" in text.stdout
    report = json.loads(run_cli("drift", "--state", "state.json", "--format", "json", cwd=contoso).stdout)
    assert report["in_sync"] is False and report["drifted"] == []
    [flagged] = report["unmanaged_lint_errors"]
    assert (flagged["role_id"], flagged["principal_id"]) == (OWNER, SECURITY_TEAM)
    assert [f["rule"] for f in flagged["lint"]] == ["HSM005"]


def test_a_harmless_unmanaged_grant_stays_unmanaged_not_drift(contoso: Path):
    _converge_then_add_arm(contoso, READER)
    result = run_cli("drift", "--state", "state.json", cwd=contoso)
    assert result.exit_code == 0 and "in sync, 1 unmanaged" in result.stdout


def test_a_suppressed_finding_does_not_make_drift(contoso: Path):
    _converge_then_add_arm(contoso, OWNER)
    manifest = contoso / "hsmsync.yaml"
    manifest.write_text(
        manifest.read_text()
        + 'lint:\n  suppress:\n    - {rule: HSM005, target: security-team, justification: "break-glass owner, reviewed"}\n'
    )
    assert run_cli("drift", "--state", "state.json", cwd=contoso).exit_code == 0


def test_an_unmanaged_data_plane_grant_that_breaks_separation_of_duties_is_drift(contoso: Path):
    manifest = contoso / "hsmsync.yaml"
    manifest.write_text(manifest.read_text().replace("    prune: true   #", "    prune: false   #"))
    assert run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso).exit_code == 0
    data = json.loads((contoso / "state.json").read_text())
    data["hsms"]["contoso"]["role_assignments"].append(
        {  # Crypto User for the pipeline, which is an Administrator: it could grant itself any key
            "name": "99999999-9999-4999-8999-999999999999",
            "scope": "/",
            "principal_id": "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99",
            "role_definition_id": "21dbd100-6940-42c2-9190-5d6cb909625b",
        }
    )
    (contoso / "state.json").write_text(json.dumps(data))
    result = run_cli("drift", "--state", "state.json", cwd=contoso)
    assert result.exit_code == 2, result.stdout
    assert "! contoso: Managed HSM Crypto User -> pipeline at / (lint HSM001" in result.stdout
