"""`apply PLAN` recomputes the plan from the manifest and live state and applies only an equal plan:
forged, foreign and malformed plan files are refused by name (fake backend; the emulator tests
are in tests/e2e/test_saved_plan_on_emulator.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

ADMINISTRATOR = "a290e904-7015-4bba-90c8-60543313cdb4"
CRYPTO_USER = "21dbd100-6940-42c2-9190-5d6cb909625b"
ATTACKER = "66666666-6666-4666-8666-666666666666"


def _plan(contoso: Path, *extra: str, out: str = "plan.json") -> dict[str, Any]:
    made = run_cli("plan", "--state", "state.json", "--out", out, *extra, cwd=contoso)
    assert made.exit_code == 0, made.stderr
    data: dict[str, Any] = json.loads((contoso / out).read_text())
    return data


def _write(contoso: Path, data: dict[str, Any], name: str = "plan.json") -> None:
    (contoso / name).write_text(json.dumps(data))


def _apply(contoso: Path, *args: str) -> Any:
    before = (contoso / "state.json").read_text()
    result = run_cli("apply", *args, "--auto-approve", cwd=contoso)
    if result.exit_code != 0:
        assert (contoso / "state.json").read_text() == before, "a refused plan changed live state"
    return result


def _admin_for(target: dict[str, Any], principal_id: str, order: int) -> dict[str, Any]:
    forged = dict(target)
    forged.update(
        id=f"data:contoso:role_assignment:/:{ADMINISTRATOR}:{principal_id}",
        name="12345678-1234-4234-8234-123456789012",
        order=order,
        role="Managed HSM Administrator",
        role_id=ADMINISTRATOR,
        principal="attacker",
        principal_id=principal_id,
        scope="/",
        risks=[],
    )
    return forged


def _first_assignment(data: dict[str, Any], principal: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in data["changes"] if c["kind"] == "role_assignment" and c["principal"] == principal
    )
    return found


def test_an_added_administrator_change_is_refused_by_name(contoso: Path):
    data = _plan(contoso)
    data["changes"].append(_admin_for(_first_assignment(data, "app-vm"), ATTACKER, len(data["changes"]) + 1))
    _write(contoso, data)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 1
    n = len(data["changes"])
    assert (
        f"change #{n} in the plan file: create role assignment on contoso: Managed HSM Administrator -> "
        f"attacker (role id {ADMINISTRATOR}, principal id {ATTACKER}) at / is not in the plan computed "
        "from hsmsync.yaml" in result.stderr
    )


def test_a_relabelled_change_carrying_other_ids_is_refused(contoso: Path):
    data = _plan(contoso)
    change = _first_assignment(data, "app-vm")
    assert change["role"] == "Managed HSM Crypto User"
    change.update(role_id=ADMINISTRATOR, principal_id=ATTACKER)  # the label still says Crypto User -> app-vm
    _write(contoso, data)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 1
    assert (
        f"Managed HSM Crypto User -> app-vm (role id {ADMINISTRATOR}, principal id {ATTACKER}) at / is not "
        "in the plan computed from hsmsync.yaml" in result.stderr
    )
    assert f"Managed HSM Crypto User -> app-vm (role id {CRYPTO_USER}" in result.stderr  # and missing


def test_a_plan_from_another_manifest_is_refused(contoso: Path):
    other = (
        (contoso / "hsmsync.yaml")
        .read_text()
        .replace("role: Crypto User, scope: /}", "role: Managed HSM Administrator, scope: /}")
    )
    (contoso / "other.yaml").write_text(other)
    _plan(contoso, "-f", "other.yaml")
    result = _apply(contoso, "plan.json", "--state", "state.json", "-f", "hsmsync.yaml")
    assert result.exit_code == 1
    assert "it was made from manifest other.yaml (sha256:" in result.stderr
    assert "but hsmsync.yaml is different (sha256:" in result.stderr
    # Given with -f, the manifest it was made from applies.
    assert _apply(contoso, "plan.json", "--state", "state.json", "-f", "other.yaml").exit_code == 0


def test_without_f_apply_plan_uses_hsmsync_yaml_not_the_manifest_the_plan_names(contoso: Path):
    # Finding 10: a plan made from a pull request's manifest is not applied by a pipeline that
    # runs `apply PLAN` next to the reviewed hsmsync.yaml.
    (contoso / "pr").mkdir()
    evil = (
        (contoso / "hsmsync.yaml")
        .read_text()
        .replace("role: Crypto User, scope: /}", "role: Managed HSM Administrator, scope: /}")
    )
    (contoso / "pr" / "evil.yaml").write_text(evil)
    _plan(contoso, "-f", "pr/evil.yaml")
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 1
    assert "it was made from manifest pr/evil.yaml (sha256:" in result.stderr
    assert "but hsmsync.yaml is different (sha256:" in result.stderr


def test_apply_plan_never_opens_a_path_from_the_plan_file(contoso: Path):
    data = _plan(contoso)
    data["manifest"]["path"] = str(contoso / "nowhere" / "evil.yaml")  # absolute, outside, absent
    _write(contoso, data)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 0, result.stderr
    assert "evil.yaml" not in result.stdout + result.stderr


def test_apply_plan_says_what_it_verified_the_plan_against(contoso: Path):
    data = _plan(contoso)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 0, result.stderr
    short = data["manifest"]["sha256"][:19]  # sha256: and 12 hex digits
    assert (
        f"plan.json: verified against manifest hsmsync.yaml ({short}) and the fake state file "
        f"{(contoso / 'state.json').resolve()}\n" in result.stdout
    )


def test_a_plan_for_another_manifest_and_state_file_is_refused(contoso: Path):
    _plan(contoso, out="A.plan.json")
    (contoso / "B.yaml").write_text((contoso / "hsmsync.yaml").read_text() + "\n# B\n")
    shutil.copy(contoso / "state.json", contoso / "other.json")
    result = _apply(contoso, "A.plan.json", "-f", "B.yaml", "--state", "other.json")
    assert result.exit_code == 1
    assert "but B.yaml is different" in result.stderr
    assert f"it was made against the fake state file {(contoso / 'state.json').resolve()}" in result.stderr
    assert (
        f"but this apply would go to the fake state file {(contoso / 'other.json').resolve()}"
        in result.stderr
    )


def test_a_plan_made_with_state_is_not_applied_to_azure(contoso: Path):
    _plan(contoso)
    result = run_cli("apply", "plan.json", "--auto-approve", cwd=contoso)
    assert result.exit_code == 1
    assert "but this apply would go to live Azure" in result.stderr


def test_a_delete_of_an_unmanaged_assignment_is_refused_when_the_hsm_does_not_prune(contoso: Path):
    manifest = (
        (contoso / "hsmsync.yaml").read_text().replace("    prune: true   #", "    prune: false   #", 1)
    )
    (contoso / "hsmsync.yaml").write_text(manifest)
    state = json.loads((contoso / "live-as-tutorial.json").read_text())
    (contoso / "state.json").write_text(json.dumps(state))
    data = _plan(contoso)
    assert data["unmanaged"], "the tutorial state has assignments the manifest does not declare"
    u = data["unmanaged"][0]
    template = (
        _first_assignment(data, "app-vm")
        if any(c["principal"] == "app-vm" for c in data["changes"])
        else data["changes"][0]
    )
    forged = dict(template)
    forged.update(
        id=f"data:contoso:role_assignment:{u['scope']}:{u['role_id']}:{u['principal_id']}",
        action="delete",
        kind="role_assignment",
        plane="data",
        name=u["name"],
        scope=u["scope"],
        role=u["role"],
        role_id=u["role_id"],
        principal=u["principal"],
        principal_id=u["principal_id"],
        order=len(data["changes"]) + 1,
        risks=[],
    )
    for key in ("definition", "payload", "field_changes", "added_data_actions", "removed_data_actions"):
        forged.pop(key, None)
    data["changes"].append(forged)
    _write(contoso, data)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 1
    assert f"in the plan file: delete role assignment on contoso: {u['role']}" in result.stderr
    assert "is not in the plan computed from hsmsync.yaml" in result.stderr


def test_an_edited_snapshot_is_refused_by_apply_as_by_show(contoso: Path):
    # Finding 13c: live state unchanged, the snapshot emptied, the fingerprint left as it was.
    data = _plan(contoso)
    data["live_snapshot"]["hsms"]["contoso"]["role_assignments"] = []
    _write(contoso, data)
    for argv in (("apply", "plan.json", "--state", "state.json", "--auto-approve"), ("show", "plan.json")):
        result = run_cli(*argv, cwd=contoso)
        assert result.exit_code == 1, argv
        assert (
            "plan.json: the live snapshot in this saved plan does not match the fingerprint it was saved "
            "with: the file was edited" in result.stderr
        ), argv


def test_an_honest_plan_applies_and_the_stale_check_stays(contoso: Path):
    _plan(contoso)
    applied = _apply(contoso, "plan.json", "--state", "state.json")
    assert applied.exit_code == 0, applied.stderr
    again = _apply(contoso, "plan.json", "--state", "state.json")
    assert again.exit_code == 1
    assert "live state changed since it was made" in again.stderr
    assert "appeared" in again.stderr


def test_another_tool_version_is_refused(contoso: Path):
    data = _plan(contoso)
    data["tool_version"] = "0.0.1"
    _write(contoso, data)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 1
    assert "it was made by hsmsync 0.0.1; this is hsmsync" in result.stderr


def test_a_forged_snapshot_and_fingerprint_cannot_hide_a_forged_change(contoso: Path):
    data = _plan(contoso)
    # Claim live state has nobody: the guard and the stale check must not believe it.
    data["live_snapshot"]["hsms"]["contoso"]["role_assignments"] = []
    data["changes"].append(_admin_for(_first_assignment(data, "app-vm"), ATTACKER, len(data["changes"]) + 1))
    _write(contoso, data)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 1
    assert "refusing to apply" in result.stderr or "does not match the fingerprint" in result.stderr


@pytest.mark.parametrize(
    ("edit", "field", "says"),
    [
        (lambda c: c.update(principal_id=None), "changes[{i}]", "needs a principal_id"),
        (lambda c: c.update(principal_id=12345), "changes[{i}].principal_id", "valid string"),
        (lambda c: c.update(principal_id="not-a-guid"), "changes[{i}].principal_id", "should match pattern"),
        (lambda c: c.update(role_id="xyz"), "changes[{i}].role_id", "should match pattern"),
        (lambda c: c.update(action="update"), "changes[{i}]", "never updated (action: update)"),
        (
            lambda c: c.update(action="update", plane="management", target="arm"),
            "changes[{i}]",
            "field_changes is empty",
        ),
        (lambda c: c.update(action="explode"), "changes[{i}].action", "Input should be"),
        (lambda c: c.update(kind="firewall"), "changes[{i}].kind", "Input should be"),
        (lambda c: c.update(order="1"), "changes[{i}].order", "valid integer"),
        (lambda c: c.update(risks="none"), "changes[{i}].risks", "valid array"),
        (lambda c: c.update(sneaky=True), "changes[{i}].sneaky", "Extra inputs are not permitted"),
    ],
)
def test_malformed_plan_files_are_clear_errors(contoso: Path, edit: Any, field: str, says: str):
    data = _plan(contoso)
    i = next(i for i, c in enumerate(data["changes"]) if c["kind"] == "role_assignment")
    edit(data["changes"][i])
    _write(contoso, data)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("error: plan.json: malformed saved plan:")
    assert f"{field.format(i=i)}: " in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "Invalid JSON"),
        ("[]", "Input should be an object"),
        ('{"version": 1, "changes": []}', "not a plan saved by this version"),
    ],
)
def test_plan_files_that_are_not_plans_are_clear_errors(contoso: Path, text: str, says: str):
    (contoso / "plan.json").write_text(text)
    result = _apply(contoso, "plan.json", "--state", "state.json")
    assert result.exit_code == 1
    assert "error: plan.json:" in result.stderr and says in result.stderr
