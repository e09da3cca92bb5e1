"""`hsmsync keys` and lint's key rules on the command line, over a Contoso state file whose keys
carry attributes; the time comes from `--at`, never the clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_cli

AT = "2026-12-01T00:00:00Z"


def _with_keys(contoso: Path, *, key_name: str = "app-signing") -> Path:
    state = json.loads((contoso / "live-as-tutorial.json").read_text())
    hsm = state["hsms"]["contoso"]
    hsm["keys"] = [key_name, "storage-cmk", "named-only"]
    hsm["key_properties"] = [
        {
            "name": key_name,
            "kty": "EC-HSM",
            "expires_on": "2026-12-11T00:00:00Z",
            "created_on": "2026-06-01T08:00:00Z",
            "updated_on": "2026-06-02T00:00:00Z",
        },
        {"name": "storage-cmk", "kty": "RSA-HSM", "enabled": False, "created_on": "2025-01-01T00:00:00Z"},
    ]
    state["vaults"]["contoso-kv"]["keys"] = [
        {"name": "kv-key", "kty": "RSA", "expires_on": "2027-12-01T00:00:00Z"}
    ]
    path = contoso / "keys-state.json"
    path.write_text(json.dumps(state))
    return path


def test_keys_text_lists_each_key_with_expiry_rotation_and_users(contoso: Path) -> None:
    _with_keys(contoso)
    r = run_cli("keys", "--state", "keys-state.json", "--at", AT, cwd=contoso)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Keys as of 2026-12-01T00:00:00+00:00 (expiring: within 30 days)"
    assert (
        "  app-signing  type EC-HSM  enabled  expires 2026-12-11 (in 10 days)  last rotated 2026-06-01  ! expiring"
        in lines
    )
    assert (
        "  storage-cmk  type RSA-HSM  disabled  expires none  last rotated 2025-01-01  ! no expiry" in lines
    )
    assert "  named-only  type -  -  expires -  last rotated -" in lines
    assert "  kv-key  type RSA  enabled  expires 2027-12-01 (in 365 days)  last rotated -" in lines
    # the live storage identity (Crypto Service Encryption User at /) reaches every key
    assert any(line.startswith("      storage (ServicePrincipal): wrap, unwrap via ") for line in lines)


def test_keys_json_and_markdown(contoso: Path) -> None:
    _with_keys(contoso)
    r = run_cli("keys", "--state", "keys-state.json", "--at", AT, "--format", "json", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    assert doc["kind"] == "keys" and doc["as_of"] == "2026-12-01T00:00:00+00:00"
    signing = next(k for k in doc["keys"] if k["name"] == "app-signing")
    assert signing["expiry"] == "expiring" and signing["days_left"] == 10
    assert signing["last_rotated"] == "2026-06-01T08:00:00+00:00" and signing["type"] == "EC-HSM"
    assert [u["principal"] for u in signing["users"]] == ["storage"]
    md = run_cli("keys", "--state", "keys-state.json", "--at", AT, "--format", "markdown", cwd=contoso)
    assert "| HSM contoso | storage-cmk | RSA-HSM | disabled | none **no expiry** | 2025-01-01 |" in md.stdout


def test_a_hostile_key_name_is_escaped_in_markdown(contoso: Path) -> None:
    _with_keys(contoso, key_name="x|<b>y</b>")
    r = run_cli("keys", "--state", "keys-state.json", "--at", AT, "--format", "markdown", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    assert "<b>" not in r.stdout and "x|<" not in r.stdout


def test_keys_needs_live_state(contoso: Path) -> None:
    r = run_cli("keys", cwd=contoso)
    assert r.exit_code == 1
    assert "give --state FILE or --live" in r.stderr and "Traceback" not in r.stderr


def test_at_without_zone_is_an_error_not_a_guess(contoso: Path) -> None:
    r = run_cli("keys", "--state", "live-as-tutorial.json", "--at", "2026-12-01", cwd=contoso)
    assert r.exit_code == 1
    assert "--at: '2026-12-01' has no time zone" in r.stderr


def test_lint_reports_key_expiry_at_the_given_time(contoso: Path) -> None:
    _with_keys(contoso)
    before = run_cli("lint", "--state", "keys-state.json", "--at", "2026-10-01T00:00:00Z", cwd=contoso)
    assert "HSM031" not in before.stdout
    assert "HSM030 key-without-expiry: key storage-cmk on HSM contoso has no expiry date" in before.stdout
    after = run_cli("lint", "--state", "keys-state.json", "--at", "2026-12-12T00:00:00Z", cwd=contoso)
    assert (
        "HSM031 key-expiring: key app-signing on HSM contoso expired on 2026-12-11T00:00:00+00:00"
        in after.stdout
    )


def test_keys_over_contoso_groups_list_who_can_obtain_apart(contoso: Path) -> None:
    """Contoso with its directory: the Administrators (the pipeline; Alice through nested groups;
    Bob once he activates his PIM-eligible membership) can obtain the key's use; they are listed
    apart from who can use it now, each with the path."""
    r = run_cli("keys", "--state", "live-with-groups.json", "--at", AT, "--format", "json", cwd=contoso)
    assert r.exit_code == 0, r.stderr
    [signing] = json.loads(r.stdout)["keys"]
    assert [u["principal"] for u in signing["users"]] == ["app-vm", "storage"]
    assert signing["once_activated"] == []
    obtain = {u["principal"]: u["via"] for u in signing["can_obtain"]}
    assert set(obtain) == {
        "Alice (on-call engineer)",
        "Bob (security, just in time)",
        "Contoso HSM On-call",
        "pipeline",
        "security-team",
    }
    assert obtain["Alice (on-call engineer)"] == [
        "Managed HSM Administrator at / (live assignment 23807fe6-d465-57fd-a315-402367541182), "
        "through group Contoso HSM On-call [member] -> group Contoso Security Team [member]"
    ]
    assert obtain["Bob (security, just in time)"][0].endswith("[eligible (PIM)], once activated")
    text = run_cli("keys", "--state", "live-with-groups.json", "--at", AT, cwd=contoso).stdout
    assert "    can obtain its use (can assign itself a role, or write the vault's access policies):" in text
    assert "security CI runner" not in text  # a service principal's group membership: not honoured
