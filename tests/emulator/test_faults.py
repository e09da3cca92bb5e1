"""Faults: the spec string, throttling with retry hints, seeded random failures, dropped connections."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from hsmsync_emulator import FaultConfig, parse_faults

from .conftest import BACKUP_USER, DEF_PREFIX, StartEmulator, acl, raw


def test_parse_faults() -> None:
    config = parse_faults("latency=20ms,429=0.1,500=0.05,503=0.05,drop=0.02,seed=7,throttle=5,page=100")
    assert config == FaultConfig(
        latency_ms=20,
        rate_429=0.1,
        rate_500=0.05,
        rate_503=0.05,
        drop=0.02,
        seed=7,
        throttle=5,
        page_size=100,
    )
    assert parse_faults("") == FaultConfig()
    assert parse_faults("latency=0.5s, throttle=0").latency_ms == 500
    assert parse_faults("latency=3").latency_ms == 3
    assert parse_faults("reply=HTML").reply == "html"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus=1", "unknown key 'bogus'"),
        ("429", "expected key=value"),
        ("500=lots", "fault '500=lots'"),
        ("500=1.5", "between 0 and 1"),
        ("429=0.6,500=0.6", "more than 1"),
        ("page=0", "at least 1"),
        ("throttle=-1", "throttle"),
        ("reply=xml", "reply must be one of html, shape, challenge"),
    ],
)
def test_parse_faults_rejects(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_faults(spec)


def test_throttle_answers_429_with_retry_hints_and_the_sdk_converges(start: StartEmulator) -> None:
    # One RBAC operation every 2 s with a burst of 1: the second of three back-to-back calls is
    # throttled however slow the machine is (a rate of 10/s was not reached on a loaded machine).
    emu = start(FaultConfig(throttle=0.5))
    client = acl(emu)
    began = time.monotonic()
    for _ in range(3):
        client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    elapsed = time.monotonic() - began
    statuses = [e[2] for e in emu.request_log]
    assert statuses.count(201) == 3
    throttles = statuses.count(429)
    assert throttles >= 1
    # azure-core waits what Retry-After says (2 s here), not its own exponential back-off (which,
    # from 0.8 s doubling per retry, would not converge within these bounds for 3 calls)
    assert 2.0 * throttles - 0.5 <= elapsed < 2.0 * throttles + 3.0
    # a burst of raw calls shows the headers
    answers = [raw(emu, "GET", "/providers/Microsoft.Authorization/roleDefinitions") for _ in range(3)]
    throttled = [r for r in answers if r.status_code == 429]
    assert throttled
    r = throttled[0]
    assert r.json()["error"]["code"] == "Throttled"
    assert int(r.headers["Retry-After"]) >= 1
    assert 1 <= int(r.headers["x-ms-retry-after-ms"]) <= 2000
    # key operations are not RBAC operations: not throttled
    assert all(raw(emu, "GET", "/keys").status_code == 200 for _ in range(12))


def _statuses(start: StartEmulator, spec: str, n: int = 30) -> list[int]:
    emu = start(parse_faults(spec))
    return [
        raw(emu, "GET", "/providers/Microsoft.Authorization/roleAssignments").status_code for _ in range(n)
    ]


def test_random_faults_are_seeded_and_reproducible(start: StartEmulator) -> None:
    spec = "429=0.2,500=0.2,503=0.2,seed=7,throttle=0"
    first = _statuses(start, spec)
    assert first == _statuses(start, spec)
    assert {200, 429, 500, 503} <= set(first)
    assert first != _statuses(start, spec.replace("seed=7", "seed=8"))


def test_faults_spare_the_challenge(start: StartEmulator) -> None:
    emu = start(parse_faults("500=1,throttle=0"))
    assert raw(emu, "GET", "/keys", oid=None).status_code == 401
    r = raw(emu, "GET", "/keys")
    assert (r.status_code, r.json()["error"]["code"]) == (500, "InternalServerError")


def test_dropped_connections(start: StartEmulator) -> None:
    emu = start(parse_faults("drop=1,throttle=0"))
    with pytest.raises(requests.ConnectionError):
        raw(emu, "GET", "/keys")
    assert emu.request_log[-1] == ("GET", "/keys", 0)


def test_sdk_converges_through_random_faults(start: StartEmulator) -> None:
    emu = start(parse_faults("429=0.1,500=0.1,503=0.1,drop=0.1,seed=3,throttle=0,page=3"))
    client = acl(emu, retry_backoff_factor=0.01)
    created = [
        client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4())).name for _ in range(8)
    ]
    listed = {a.name for a in client.list_role_assignments("/")}
    assert set(created) <= listed
    assert {0, 429, 500, 503} <= {e[2] for e in emu.request_log}
    emu.set_faults(parse_faults("429=1,throttle=0"))
    injected = raw(emu, "GET", "/keys")
    assert injected.status_code == 429
    assert "Retry-After" not in injected.headers
    assert injected.headers["x-ms-retry-after-ms"] == "10"


def test_latency(start: StartEmulator) -> None:
    emu = start(parse_faults("latency=80ms,throttle=0"))
    raw(emu, "GET", "/keys")  # warm the connection-less path once
    began = time.monotonic()
    assert raw(emu, "GET", "/keys").status_code == 200
    assert time.monotonic() - began >= 0.08


def test_faults_can_change_at_run_time(start: StartEmulator) -> None:
    emu = start(FaultConfig(throttle=0))
    emu.set_faults(parse_faults("503=1"))
    assert raw(emu, "GET", "/keys").status_code == 503
    emu.set_faults(FaultConfig(throttle=0))
    assert raw(emu, "GET", "/keys").status_code == 200
