"""One contract, two backends: the fake state file and the live backend (the real Azure SDK
clients against the emulator) behave the same to every caller of the `StateBackend` protocol.

Both start from the same state (`initial_state`) and are opened the way the CLI opens them
(`registry.open_backend`), as context managers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync.backends.base import Outcome, StateBackend
from hsmsync.backends.registry import open_backend
from hsmsync.core.plan import Action
from hsmsync_files.statefile import write_state_file
from tests.signin import with_sign_in

from .conftest import (
    ADMIN,
    ADMINISTRATOR,
    APP,
    CRYPTO_USER,
    FAST_ENV,
    HSM,
    KEYS,
    OUTSIDER,
    emulator_for,
    endpoints_for,
    initial_state,
    request,
)
from .test_e2e import arm_assignment, data_assignment, keyed


@pytest.fixture(params=["state file", "emulator"])
def contract_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateBackend]:
    if request.param == "state file":
        write_state_file(tmp_path / "state.json", initial_state())
        with open_backend(state=Path("state.json"), endpoints=None, environ={}, cwd=tmp_path) as backend:
            yield backend
        return
    emulator: Any
    with emulator_for(tmp_path, faults="throttle=0") as emulator:
        endpoints = endpoints_for(emulator, tmp_path / "endpoints.json")
        environ = with_sign_in(FAST_ENV)
        with open_backend(state=None, endpoints=endpoints, environ=environ, cwd=tmp_path) as backend:
            yield backend


def test_full_discovery_reads_every_assignment_and_key(contract_backend: StateBackend) -> None:
    live = contract_backend.read_state(request(full=True))
    assert keyed(live) == keyed(initial_state())
    assert live.hsms[HSM].keys == KEYS
    assert ("/keys/k2", CRYPTO_USER, OUTSIDER) in keyed(live)


def test_a_data_assignment_is_created_once_and_deleted_once(contract_backend: StateBackend) -> None:
    backend = contract_backend
    backend.read_state(request())
    create = data_assignment(Action.CREATE, "/keys/k1", CRYPTO_USER, APP)
    assert backend.apply_change(create) is Outcome.DONE
    assert backend.apply_change(create) is Outcome.ALREADY_DONE
    assert ("/keys/k1", CRYPTO_USER, APP) in keyed(backend.read_state(request()))
    delete = data_assignment(Action.DELETE, "/keys/k1", CRYPTO_USER, APP)
    assert backend.apply_change(delete) is Outcome.DONE
    assert backend.apply_change(delete) is Outcome.ALREADY_DONE
    assert ("/keys/k1", CRYPTO_USER, APP) not in keyed(backend.read_state(request()))
    assert ("/", ADMINISTRATOR, ADMIN) in keyed(backend.read_state(request()))


def test_an_arm_assignment_is_created_once_and_deleted_once(contract_backend: StateBackend) -> None:
    backend = contract_backend
    backend.read_state(request())
    assert backend.apply_change(arm_assignment(Action.CREATE)) is Outcome.DONE
    assert backend.apply_change(arm_assignment(Action.CREATE)) is Outcome.ALREADY_DONE
    assert APP in {a.principal_id for a in backend.read_state(request()).arm.role_assignments}
    assert backend.apply_change(arm_assignment(Action.DELETE)) is Outcome.DONE
    assert backend.apply_change(arm_assignment(Action.DELETE)) is Outcome.ALREADY_DONE
    assert APP not in {a.principal_id for a in backend.read_state(request()).arm.role_assignments}


def test_what_callers_use_besides_reading_and_applying(contract_backend: StateBackend) -> None:
    backend = contract_backend
    backend.read_state(request())
    assert backend.workers >= 1
    assert backend.describe()
    assert backend.other_writers() == []  # nobody else wrote
    with backend as entered:
        assert entered is backend
