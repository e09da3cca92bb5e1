"""The replica region: writes reach it after a lag, it serves a share of RBAC reads (and checks
authorization against its own view), and the primary can answer 201 before a write is in effect."""

from __future__ import annotations

import io
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from hsmsync.cli.status import ExitStatus
from hsmsync_emulator import (
    PRIMARY_REGION,
    REPLICA_REGION,
    Emulator,
    FaultConfig,
    ReplicaConfig,
    ServeSpecs,
    parse_replica,
    run_emulator_cli,
)
from tests.conftest import run_cli

from .conftest import ADMIN, BACKUP_USER, CRYPTO_USER, DEF_PREFIX, OTHER, StartEmulator, acl, raw


class FakeClock:
    """The emulator's replication clock, advanced by the test (no test sleeps for a lag)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def _regions_of_lists(emu: Emulator, n: int, scope: str = "/") -> list[tuple[str, set[str]]]:
    """n raw list calls: (the region that answered, the assignment names it listed)."""
    out = []
    for _ in range(n):
        answer = raw(emu, "GET", f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments")
        assert answer.status_code == 200, answer.text
        out.append((answer.headers["x-ms-keyvault-region"], {a["name"] for a in answer.json()["value"]}))
    return out


def test_a_write_reaches_the_replica_after_the_lag(start: StartEmulator) -> None:
    clock = FakeClock()
    emu = start(FaultConfig(throttle=0, replica=ReplicaConfig(lag=360, share=0.5, clock=clock)))
    name = str(uuid.uuid4())
    created = acl(emu).create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER, name=name)
    assert created.name == name
    # Round robin: every other read is the replica's, which does not have the write yet.
    seen = _regions_of_lists(emu, 4)
    assert [region for region, _ in seen] == [PRIMARY_REGION, REPLICA_REGION] * 2
    assert [name in names for _, names in seen] == [True, False, True, False]
    clock.advance(359)
    assert [name in names for _, names in _regions_of_lists(emu, 2)] == [True, False]
    clock.advance(1)
    assert [name in names for _, names in _regions_of_lists(emu, 2)] == [True, True]
    # The write is in the state (and its file) at once: the store holds the primary's newest state.
    assert any(a.name == name for a in emu.state().hsms["hsm1"].role_assignments)


def test_deletes_and_role_definitions_replicate_too(start: StartEmulator) -> None:
    clock = FakeClock()
    emu = start(
        FaultConfig(throttle=0, replica=ReplicaConfig(lag=60, share=1.0, clock=clock))
    )  # every RBAC read: the replica
    client = acl(emu)
    role = str(uuid.uuid4())
    client.set_role_definition("/", name=role, role_name="Lagging role", permissions=[])
    with pytest.raises(ResourceNotFoundError):
        client.get_role_definition("/", role)
    clock.advance(60)
    assert client.get_role_definition("/", role).role_name == "Lagging role"

    doomed = "e0c1d2a3-0000-4000-8000-000000000003"  # the auditor's assignment at '/'
    client.delete_role_assignment("/", doomed)
    assert client.get_role_assignment("/", doomed).name == doomed  # still there on the replica
    clock.advance(60)
    with pytest.raises(ResourceNotFoundError):
        client.get_role_assignment("/", doomed)


def test_a_repeated_put_is_checked_against_the_newest_state(start: StartEmulator) -> None:
    emu = start(FaultConfig(throttle=0, replica=ReplicaConfig(lag=60, share=1.0, clock=FakeClock())))
    client = acl(emu)
    name = str(uuid.uuid4())
    client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER, name=name)
    with pytest.raises(HttpResponseError) as again:
        client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER, name=name)
    assert again.value.error is not None and again.value.error.code == "RoleAssignmentExists"
    assert [a.name for a in emu.state().hsms["hsm1"].role_assignments].count(name) == 1


def test_the_replica_authorizes_with_its_own_view(start: StartEmulator) -> None:
    clock = FakeClock()
    emu = start(FaultConfig(throttle=0, replica=ReplicaConfig(lag=30, share=1.0, clock=clock)))
    path = "/providers/Microsoft.Authorization/roleAssignments"
    assert raw(emu, "GET", path, oid=OTHER).status_code == 403
    acl(emu).create_role_assignment("/", DEF_PREFIX + CRYPTO_USER, OTHER, name=str(uuid.uuid4()))
    denied = raw(emu, "GET", path, oid=OTHER)  # Crypto User may read assignments, not yet here
    assert denied.status_code == 403 and "x-ms-keyvault-region" not in denied.headers  # as recorded
    clock.advance(30)
    assert raw(emu, "GET", path, oid=OTHER).status_code == 200


def test_the_primary_answers_201_before_the_write_is_in_effect(start: StartEmulator) -> None:
    clock = FakeClock()
    emu = start(
        FaultConfig(throttle=0, replica=ReplicaConfig(delay=5, clock=clock))
    )  # no replica reads, only the delay
    path = "/providers/Microsoft.Authorization/roleAssignments"
    name = str(uuid.uuid4())
    created = acl(emu).create_role_assignment("/", DEF_PREFIX + CRYPTO_USER, OTHER, name=name)
    assert created.name == name
    assert raw(emu, "GET", path, oid=OTHER).status_code == 403
    with pytest.raises(ResourceNotFoundError):
        acl(emu).get_role_assignment("/", name)
    clock.advance(5)
    assert raw(emu, "GET", path, oid=OTHER).status_code == 200
    assert acl(emu).get_role_assignment("/", name).name == name


def test_a_seed_draws_regions_reproducibly(start: StartEmulator) -> None:
    first = start(FaultConfig(throttle=0, replica=ReplicaConfig(lag=1, share=0.3, seed=4, clock=FakeClock())))
    regions = [r for r, _ in _regions_of_lists(first, 20)]
    first.stop()
    second = start(
        FaultConfig(throttle=0, replica=ReplicaConfig(lag=1, share=0.3, seed=4, clock=FakeClock()))
    )
    assert [r for r, _ in _regions_of_lists(second, 20)] == regions
    assert {PRIMARY_REGION, REPLICA_REGION} == set(regions)


def test_only_the_named_hsms_have_a_replica_and_key_calls_stay_on_the_primary(start: StartEmulator) -> None:
    named = ReplicaConfig(lag=1, share=1.0, hsms=frozenset({"hsm2"}), clock=FakeClock())
    emu = start(FaultConfig(throttle=0, replica=named))
    assert _regions_of_lists(emu, 2)[1][0] == PRIMARY_REGION  # hsm1 has one region, share or not
    emu.stop()
    emu = start(FaultConfig(throttle=0, replica=replace(named, hsms=frozenset({"hsm1"}))))
    assert _regions_of_lists(emu, 1)[0][0] == REPLICA_REGION
    keys = raw(emu, "GET", "/keys", oid=ADMIN)
    assert keys.status_code == 200 and keys.headers["x-ms-keyvault-region"] == PRIMARY_REGION


def test_replica_spec_parsing() -> None:
    config = parse_replica("lag=6m, share=0.25, delay=1500ms, seed=3, hsm=a+b")
    assert config == ReplicaConfig(lag=360, share=0.25, delay=1.5, seed=3, hsms=frozenset({"a", "b"}))
    assert config.replica_age == 360
    assert "lag 360s" in config.describe() and "25%" in config.describe()
    arm = parse_replica("arm=2m")
    assert arm.arm == 120 and arm.history == 120 and "ARM role-assignment listings lag 120s" in arm.describe()
    for bad, message in [
        ("share=2", "share must be between 0 and 1"),
        ("lag=-1", "must not be negative"),
        ("lag", "expected key=value"),
        ("speed=3", "unknown key 'speed'"),
        ("lag=soon", "replica 'lag=soon'"),
        ("lag=inf", "not a finite number"),
        ("arm=-2s", "must not be negative"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_replica(bad)


def test_a_bad_replica_option_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("emulator", "--state", "missing.json", "--replica", "share=3", cwd=tmp_path)
    assert result.exit_code == ExitStatus.ERROR
    assert "--replica: replica 'share=3': share must be between 0 and 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_emulator_command_serves_the_replica_it_was_given(
    state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def interrupted(self: Emulator) -> None:
        seen["replica"], seen["throttle"] = self.replica, self.faults.throttle
        raise KeyboardInterrupt

    monkeypatch.setattr(Emulator, "serve_forever", interrupted)
    out = io.StringIO()
    specs = ServeSpecs(faults="throttle=3", replica="lag=6m,share=0.5,hsm=hsm1")
    assert run_emulator_cli(state_file, 0, None, specs, out) == 0
    assert seen == {"replica": ReplicaConfig(lag=360, share=0.5, hsms=frozenset({"hsm1"})), "throttle": 3}
    assert "replica region for hsm1: lag 360s, serves 50% of RBAC reads (round robin)" in out.getvalue()
