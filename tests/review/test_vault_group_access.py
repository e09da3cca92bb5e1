"""The CLI on a Key Vault whose access policy names a group (Contoso's security team holds secrets
purge on contoso-kv): whocan --vault, explain and keys list the group's transitive members with the
path through each group, from the state file's `directory`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import CONTOSO, run_cli

ALICE, BOB = "a1b2c3d4-0001-4a00-8000-00000000a11c", "a1b2c3d4-0002-4a00-8000-00000000b0b0"
RUNNER, SECURITY = "a1b2c3d4-0004-4a00-8000-0000000c1c1c", "6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11"
STATE = ("--state", str(CONTOSO / "live-with-groups.json"))
THROUGH_ONCALL = ["group Contoso HSM On-call [member]", "group Contoso Security Team [member]"]


def _folder(tmp_path: Path) -> Path:
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    return tmp_path


def test_whocan_vault_expands_a_group_entry_to_its_nested_members(tmp_path: Path) -> None:
    r = run_cli(
        "whocan", "--vault", "contoso-kv", "secrets/purge", *STATE, "--format", "json", cwd=_folder(tmp_path)
    )
    assert r.exit_code == 0, r.stderr
    body = json.loads(r.stdout)
    for side in ("would_be", "is_now"):
        paths = {p["principal_id"]: p for p in body[side]}
        assert paths[ALICE]["through"] == THROUGH_ONCALL, side
        assert paths[ALICE]["status"] == "holds"
        assert paths[RUNNER]["status"] == "holds"  # a service principal's group counts on a vault
        assert paths[BOB]["status"] == "can once activated"
    text = run_cli("whocan", "--vault", "contoso-kv", "secrets/purge", *STATE, cwd=tmp_path).stdout
    assert (
        "Alice (on-call engineer) (User)  via live access policy  access policy (secrets: purge) at the "
        "whole vault  through group Contoso HSM On-call [member] -> group Contoso Security Team [member]\n"
    ) in text


def test_explain_shows_the_access_policy_a_member_holds_through_its_group(tmp_path: Path) -> None:
    r = run_cli("explain", ALICE, *STATE, cwd=_folder(tmp_path))
    assert r.exit_code == 0, r.stderr
    is_now = r.stdout.split("In live state (what is):")[1]
    assert "  Key Vault contoso-kv:\n    access policy  via live access policy\n" in is_now
    assert f"      ! through {' -> '.join(THROUGH_ONCALL)}\n" in is_now
    assert "not declared by the manifest" not in is_now  # the manifest declares the group's entry


def test_keys_lists_a_vault_key_user_through_its_group(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    state = json.loads((CONTOSO / "live-with-groups.json").read_text())
    vault = state["vaults"]["contoso-kv"]
    vault["keys"] = [{"name": "kv-key", "kty": "RSA"}]
    [group_entry] = [p for p in vault["access_policies"] if p["object_id"] == SECURITY]
    group_entry["keys"].append("unwrapKey")  # the security team may use the vault's keys
    (folder / "state.json").write_text(json.dumps(state))
    r = run_cli(
        "keys", "--state", "state.json", "--format", "json", cwd=folder, now=datetime(2026, 6, 1, tzinfo=UTC)
    )
    assert r.exit_code == 0, r.stderr
    [entry] = [k for k in json.loads(r.stdout)["keys"] if k["name"] == "kv-key"]
    users = {u["principal"]: u for u in entry["users"]}
    assert "Alice (on-call engineer)" in users and "security CI runner" in users
    assert "Bob (security, just in time)" in {u["principal"] for u in entry["once_activated"]}
