"""A property of the live path, compound and plain access-policy entries mixed: what the plan
shows for each access-policy change is exactly what the applier makes the service hold (through
the real KeyVaultManagementClient against the emulator), entry by entry keyed on (object,
application); every entry the plan does not name is left as it was; the re-plan is empty."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsmsync.core.state import AccessPolicy
from hsmsync_emulator import FaultConfig, start_emulator
from tests.conftest import CONTOSO
from tests.e2e.test_live_resources import APP_VM, OUTSIDER, Live, _vault
from tests.signin import sign_in_as

APPS = (None, "5e1c2d3a-4b5f-4a6e-9c7d-8e9f0a1b2c3d", "6f2d3e4b-5c6a-4b7f-8d9e-0f1a2b3c4d5e")
OWNERS = {"outsider": OUTSIDER, "app-vm": APP_VM}
LISTS = ("keys", "secrets", "certificates", "storage")
Key = tuple[str, str | None]
Lists = dict[str, tuple[str, ...]]

_perms = st.fixed_dictionaries(
    {
        "keys": st.sets(st.sampled_from(["get", "list", "sign", "verify"])),
        "secrets": st.sets(st.sampled_from(["get", "list", "set"])),
    }
).filter(lambda p: bool(p["keys"] or p["secrets"]))
# Per principal key, per application (None: its own entry): the permissions of that entry.
_entries = st.dictionaries(
    st.sampled_from(sorted(OWNERS)), st.dictionaries(st.sampled_from(APPS), _perms, max_size=3), max_size=2
)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """The emulator on Contoso's empty state; each example sets the vault's entries itself."""
    (tmp_path / "emulated.json").write_text((CONTOSO / "empty-state.json").read_text(encoding="utf-8"))
    with start_emulator(tmp_path / "emulated.json", faults=FaultConfig(throttle=0)) as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator)
        yield Live(tmp_path, emulator)


def _lists(entry: dict[str, Any]) -> Lists:
    return {k: tuple(sorted(entry.get(k) or ())) for k in LISTS if entry.get(k)}


def _live_entries(target: Live) -> dict[Key, Lists]:
    vault = target.emulator.state().vaults["contoso-kv"]
    return {(p.object_id, p.application_id): _lists(p.model_dump()) for p in vault.access_policies}


def _set_live(target: Live, entries: dict[str, dict[str | None, dict[str, set[str]]]]) -> None:
    policies = tuple(
        AccessPolicy(
            object_id=OWNERS[who], application_id=app, **{k: tuple(sorted(v)) for k, v in perms.items()}
        )
        for who, by_app in entries.items()
        for app, perms in by_app.items()
    )

    def replace(state: Any) -> tuple[Any, None]:
        vault = state.vaults["contoso-kv"].model_copy(update={"access_policies": policies})
        return state.model_copy(update={"vaults": {**state.vaults, "contoso-kv": vault}}), None

    target.emulator.store.update(replace)


def _declared(entries: dict[str, dict[str | None, dict[str, set[str]]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for who, by_app in entries.items():
        listed = [
            {**({"application": app} if app else {}), **{k: sorted(v) for k, v in perms.items() if v}}
            for app, perms in by_app.items()
        ]
        if listed:
            out[who] = listed
    return out


@pytest.mark.slow
def test_what_the_plan_shows_is_what_the_service_holds_after_apply(live: Live) -> None:
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(before=_entries, wanted=_entries, prune=st.booleans())
    def check(before: Any, wanted: Any, prune: bool) -> None:
        _set_live(live, before)
        was = _live_entries(live)
        live.manifest(
            principals={"outsider": {"type": "User", "id": OUTSIDER}}, vaults=_vault(prune, _declared(wanted))
        )
        shown = live.run("plan", "--format", "json")
        assert shown.exit_code == 0, shown.stdout + shown.stderr
        changes = [c for c in json.loads(shown.stdout)["changes"] if c["kind"] == "access_policy"]
        applied = live.run("apply", "--auto-approve")
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        now = _live_entries(live)
        named: set[Key] = set()
        for c in changes:
            key = (c["payload"]["object_id"], c["payload"].get("application_id"))
            named.add(key)
            if c["action"] == "delete":
                assert key not in now, (c, now)
                continue
            assert now.get(key) == _lists(c["payload"]), (c, now)
            for field in c["field_changes"]:  # the lines the reviewer reads
                assert tuple(field["new"]) == now[key].get(field["path"], ()), (field, now[key])
        assert {k: v for k, v in now.items() if k not in named} == {
            k: v for k, v in was.items() if k not in named
        }
        again = live.run("plan", "--format", "json")
        assert [c for c in json.loads(again.stdout)["changes"] if c["kind"] == "access_policy"] == []

    check()
