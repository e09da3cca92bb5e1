"""Compound identities ("a user through an application": an access-policy entry with an
`applicationId`) through the CLI's live path, the real KeyVaultManagementClient and the emulator:
read, planned, applied and re-planned as entries of their own, never merged with or mistaken for
the plain entry of the same object id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync_emulator import FaultConfig, start_emulator
from tests.conftest import CONTOSO
from tests.e2e.test_live_resources import OUTSIDER, Live, _vault
from tests.signin import sign_in_as

APP = "5e1c2d3a-4b5f-4a6e-9c7d-8e9f0a1b2c3d"  # the application (client) id the user must call through


def _entry(app: str | None, **lists: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "object_id": OUTSIDER,
        "keys": [],
        "secrets": [],
        "certificates": [],
        "storage": [],
    }
    if app:
        entry["application_id"] = app
    return {**entry, **lists}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """The outsider holds two entries: its own (keys: get) and, through APP, secrets: get."""
    state = json.loads((CONTOSO / "empty-state.json").read_text(encoding="utf-8"))
    state["vaults"]["contoso-kv"]["access_policies"] = [
        _entry(None, keys=["get"]),
        _entry(APP, secrets=["get"]),
    ]
    (tmp_path / "emulated.json").write_text(json.dumps(state), encoding="utf-8")
    with start_emulator(tmp_path / "emulated.json", faults=FaultConfig(throttle=0)) as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator)
        yield Live(tmp_path, emulator)


def _entries(live: Live) -> dict[tuple[str, str | None], dict[str, list[str]]]:
    return {
        (p["object_id"], p.get("application_id")): {
            k: p[k] for k in ("keys", "secrets", "certificates", "storage") if p[k]
        }
        for p in live.state()["vaults"]["contoso-kv"]["access_policies"]
    }


def _principals() -> dict[str, Any]:
    return {"outsider": {"type": "User", "id": OUTSIDER}}


def test_a_compound_entry_is_planned_and_applied_apart_from_the_plain_one(live: Live) -> None:
    live.manifest(
        principals=_principals(),
        vaults=_vault(False, {"outsider": {"application": APP, "secrets": ["get", "list"]}}),
    )
    plan = live.plan()
    assert plan.exit_code == 2 and "1 to update" in plan.stdout, plan.stdout
    assert f"access policy for outsider via application {APP}" in plan.stdout, plan.stdout
    live.apply(1)
    assert _entries(live) == {
        (OUTSIDER, None): {"keys": ["get"]},  # the plain entry is not touched
        (OUTSIDER, APP): {"secrets": ["get", "list"]},
    }
    # Declaring only the plain entry with prune: true deletes the compound one, and only it.
    live.manifest(principals=_principals(), vaults=_vault(True, {"outsider": {"keys": ["get"]}}))
    plan = live.plan()
    assert plan.exit_code == 2 and "1 to delete" in plan.stdout, plan.stdout
    assert f"outsider via application {APP}" in plan.stdout, plan.stdout
    live.apply(1)
    assert _entries(live) == {(OUTSIDER, None): {"keys": ["get"]}}


def test_both_entries_of_one_user_declared_as_a_list_and_a_saved_plan_keeps_the_application(
    live: Live,
) -> None:
    both = [{"keys": ["get", "list"]}, {"application": APP, "secrets": ["get"]}]
    live.manifest(principals=_principals(), vaults=_vault(True, {"outsider": both}))
    saved = live.run("plan", "--out", "plan.json")
    assert saved.exit_code == 0, saved.stderr
    [change] = json.loads((live.dir / "plan.json").read_text(encoding="utf-8"))["changes"]
    assert change["action"] == "update" and "application_id" not in change["payload"]
    applied = live.run("apply", "plan.json", "--auto-approve")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert _entries(live) == {
        (OUTSIDER, None): {"keys": ["get", "list"]},
        (OUTSIDER, APP): {"secrets": ["get"]},
    }
    assert live.plan().exit_code == 0
    # A new compound entry through another application, from a saved plan: it carries its application.
    other = "6f2d3e4b-5c6a-4b7f-8d9e-0f1a2b3c4d5e"
    live.manifest(
        principals=_principals(),
        vaults=_vault(True, {"outsider": [*both, {"application": other, "keys": ["sign"]}]}),
    )
    assert live.run("plan", "--out", "plan.json").exit_code == 0
    [change] = json.loads((live.dir / "plan.json").read_text(encoding="utf-8"))["changes"]
    assert change["payload"]["application_id"] == other
    assert live.run("apply", "plan.json", "--auto-approve").exit_code == 0
    assert _entries(live)[(OUTSIDER, other)] == {"keys": ["sign"]}
    assert len(_entries(live)) == 3 and live.plan().exit_code == 0


def test_an_undeclared_compound_entry_is_drift(live: Live) -> None:
    live.manifest(principals=_principals(), vaults=_vault(True, {"outsider": {"keys": ["get"]}}))
    drift = live.run("drift")
    assert drift.exit_code == 2, drift.stdout + drift.stderr
    assert f"outsider via application {APP}" in drift.stdout, drift.stdout
