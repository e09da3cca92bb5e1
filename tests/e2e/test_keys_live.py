"""`hsmsync keys` and lint's key rules with --live: the real KeyClient lists the keys' attributes
(list_properties_of_keys) and reads each key's type (get_key) from the emulator, which serves the
attributes its state records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync_emulator import start_emulator
from tests.conftest import CONTOSO, run_cli
from tests.signin import sign_in_as

AT = "2026-12-01T00:00:00Z"
LIVE = ("--live", "--endpoints", "endpoints.json")


@pytest.fixture
def emulated_keys(tmp_path: Path) -> Iterator[Path]:
    """Contoso's fresh HSM with three keys: one expiring soon, one without expiry, one by name only."""
    state = json.loads((CONTOSO / "empty-state.json").read_text())
    hsm = state["hsms"]["contoso"]
    hsm["keys"] = ["app-signing", "storage-cmk", "plain"]
    hsm["key_properties"] = [
        {
            "name": "app-signing",
            "kty": "EC-HSM",
            "expires_on": "2026-12-21T00:00:00Z",
            "created_on": "2026-06-01T08:00:00Z",
            "updated_on": "2026-06-03T00:00:00Z",
        },
        {"name": "storage-cmk", "kty": "oct-HSM", "enabled": False, "created_on": "2025-01-01T00:00:00Z"},
    ]
    (tmp_path / "emulated.json").write_text(json.dumps(state))
    (tmp_path / "hsmsync.yaml").write_text((CONTOSO / "hsmsync.yaml").read_text())
    with start_emulator(tmp_path / "emulated.json", workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator)  # the pipeline: initial administrator, Crypto Auditor at /keys
        yield tmp_path


def test_keys_live_reads_attributes_and_types(emulated_keys: Path) -> None:
    r = run_cli("keys", *LIVE, "--at", AT, "--format", "json", cwd=emulated_keys)
    assert r.exit_code == 0, r.stderr
    keys: dict[str, Any] = {k["name"]: k for k in json.loads(r.stdout)["keys"]}
    assert sorted(keys) == ["app-signing", "plain", "storage-cmk"]
    signing = keys["app-signing"]
    assert signing["type"] == "EC-HSM" and signing["enabled"] is True
    assert signing["expires_on"] == "2026-12-21T00:00:00+00:00" and signing["expiry"] == "expiring"
    assert signing["last_rotated"] == "2026-06-01T08:00:00+00:00"
    assert signing["updated_on"] == "2026-06-03T00:00:00+00:00"
    cmk = keys["storage-cmk"]
    assert (cmk["type"], cmk["enabled"], cmk["expiry"]) == ("oct-HSM", False, "no expiry")
    # a key the state records by name only: the emulator's defaults (RSA, enabled, no expiry)
    assert (keys["plain"]["type"], keys["plain"]["expiry"]) == ("RSA-HSM", "no expiry")
    # the HSM is empty but for the pipeline, which reads keys and uses none
    assert all(k["users"] == [] for k in keys.values())


def test_lint_live_flags_key_expiry(emulated_keys: Path) -> None:
    r = run_cli("lint", *LIVE, "--at", AT, cwd=emulated_keys)
    assert "HSM030 key-without-expiry: key storage-cmk on HSM contoso has no expiry date" in r.stdout
    assert "HSM030 key-without-expiry: key plain on HSM contoso has no expiry date" in r.stdout
    assert (
        "HSM031 key-expiring: key app-signing on HSM contoso expires on 2026-12-21T00:00:00+00:00, in 20 days"
        in r.stdout
    )


@pytest.fixture
def keys_unreadable(emulated_keys: Path) -> Path:
    """The pipeline without Crypto Auditor at /keys (Administrator reads no key), and an HSM that
    does not prune (so discovery does not need to list keys)."""
    state = json.loads((emulated_keys / "emulated.json").read_text())
    hsm = state["hsms"]["contoso"]
    hsm["role_assignments"] = [a for a in hsm["role_assignments"] if a["scope"] == "/"]
    (emulated_keys / "emulated.json").write_text(json.dumps(state))
    manifest = emulated_keys / "hsmsync.yaml"
    manifest.write_text(manifest.read_text().replace("prune: true   #", "prune: false   #", 1))
    return emulated_keys


def test_lint_live_without_keys_read_still_lints(keys_unreadable: Path) -> None:
    r = run_cli("lint", *LIVE, "--at", AT, cwd=keys_unreadable)
    assert r.exit_code == 0, r.stderr
    assert "HSM003 hsm-wide-key-use" in r.stdout  # the other rules ran as before
    assert "HSM030" not in r.stdout and "HSM031" not in r.stdout  # keys not readable: not judged


def test_keys_live_without_keys_read_says_so(keys_unreadable: Path) -> None:
    r = run_cli("keys", *LIVE, "--at", AT, cwd=keys_unreadable)
    assert r.exit_code == 1, r.stdout
    assert "permission denied: list keys" in r.stderr and "keys/read/action" in r.stderr
