"""`--caller` / `--caller-group` (finding 5): a GUID or a key of `principals`, nothing else.

A value that is neither used to read as "no caller", which silently switched off the guard for
the applying identity's own rights.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

PIPELINE = "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99"


@pytest.fixture
def drops_own_admin(contoso: Path) -> Path:
    """The pipeline (not Azure's initial admin here) loses its own Administrator grant."""
    state = json.loads((contoso / "state.json").read_text())
    state["hsms"]["contoso"]["initial_admin_object_ids"] = ["11111111-1111-4111-8111-111111111111"]
    (contoso / "state.json").write_text(json.dumps(state))
    manifest = (contoso / "hsmsync.yaml").read_text()
    own = "    members: [pipeline]\n    data:\n      - {hsm: contoso, role: Managed HSM Administrator, scope: /}\n"
    assert own in manifest
    (contoso / "hsmsync.yaml").write_text(manifest.replace(own, "    members: [pipeline]\n    data:\n"))
    return contoso


def _plan(directory: Path, *extra: str) -> tuple[int, str]:
    result = run_cli("plan", "--state", "state.json", *extra, cwd=directory)
    return result.exit_code, result.stderr


def test_without_a_caller_the_state_file_backend_has_no_applier_to_protect(drops_own_admin: Path) -> None:
    assert _plan(drops_own_admin)[0] == 0


@pytest.mark.parametrize("caller", [PIPELINE, PIPELINE.upper(), "pipeline"])
def test_a_guid_in_any_case_or_a_principal_key_names_the_applier(drops_own_admin: Path, caller: str) -> None:
    code, stderr = _plan(drops_own_admin, "--caller", caller)
    assert code == 1
    assert "plan refused by the lockout guard" in stderr
    assert "would take from the applying identity roleAssignments/write/action at '/'" in stderr


@pytest.mark.parametrize("caller", ["not-a-guid", f"{PIPELINE} ", f" {PIPELINE}", "", "Pipeline"])
def test_anything_else_is_a_usage_error_naming_the_value(drops_own_admin: Path, caller: str) -> None:
    code, stderr = _plan(drops_own_admin, "--caller", caller)
    assert code == 1
    assert f"error: --caller: unknown principal '{caller}'" in stderr
    assert "lockout guard" not in stderr


def test_caller_groups_are_checked_the_same_way(drops_own_admin: Path) -> None:
    code, stderr = _plan(drops_own_admin, "--caller", "pipeline", "--caller-group", "secuirty-team")
    assert code == 1
    assert "error: --caller-group: unknown principal 'secuirty-team'" in stderr
    assert "did you mean" in stderr or "security-team" in stderr
    # Resolved. The pipeline is a service principal: the HSM data plane does not honour its groups,
    # so the security team's Administrator is no right of its own, and losing its own is refused.
    code, stderr = _plan(drops_own_admin, "--caller", "pipeline", "--caller-group", "security-team")
    assert code == 1
    assert "would take from the applying identity roleAssignments/write/action at '/'" in stderr


def test_a_users_groups_keep_its_data_plane_rights(drops_own_admin: Path) -> None:
    # The same applier declared as a user: through the security team (Administrator at / in the
    # manifest) it keeps its rights, because a user's groups count on the data plane.
    manifest = drops_own_admin / "hsmsync.yaml"
    sp = "pipeline:       {type: ServicePrincipal,"
    assert sp in manifest.read_text()
    manifest.write_text(manifest.read_text().replace(sp, "pipeline:       {type: User,"))
    code, stderr = _plan(drops_own_admin, "--caller", "pipeline", "--caller-group", "security-team")
    assert code == 0, stderr


def test_caller_groups_without_a_caller_are_an_error(drops_own_admin: Path) -> None:
    code, stderr = _plan(drops_own_admin, "--caller-group", "security-team")
    assert code == 1
    assert "--caller-group names the groups of --caller; give --caller too" in stderr


def test_apply_checks_the_caller_before_opening_the_backend(drops_own_admin: Path) -> None:
    before = (drops_own_admin / "state.json").read_text()
    result = run_cli(
        "apply", "--state", "state.json", "--auto-approve", "--caller", "pipline", cwd=drops_own_admin
    )
    assert result.exit_code == 1
    assert "error: --caller: unknown principal 'pipline'" in result.stderr
    assert (drops_own_admin / "state.json").read_text() == before
