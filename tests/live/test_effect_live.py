"""The live backend's read-back through the real SDK clients: the regions it heard from, one list
call per HSM and scope, and a wait that converges on a replica whose lag is on a clock the test
shares with the emulator (so nobody sleeps for it)."""

from __future__ import annotations

from pathlib import Path

from hsmsync.applier import WaitClock, verify_effect
from hsmsync.backends.azure import AzureBackend, make_azure_backend
from hsmsync.backends.base import Outcome
from hsmsync.core.effect import ARM_VIEW
from hsmsync.core.plan import Action, Change
from hsmsync.core.results import ApplyResult, ChangeResult, ChangeStatus, Effect
from hsmsync_emulator import (
    PRIMARY_REGION,
    REPLICA_REGION,
    Emulator,
    FaultConfig,
    ReplicaConfig,
    start_emulator,
)
from hsmsync_files.statefile import write_state_file
from tests.emulator.test_replica import FakeClock
from tests.signin import with_sign_in

from .conftest import (
    APP,
    CRYPTO_AUDITOR,
    CRYPTO_USER,
    FAST_ENV,
    READER,
    endpoints_for,
    initial_state,
    request,
)
from .test_e2e import arm_assignment, data_assignment, role_definition

_ASSIGNMENT_LISTS = "/providers/Microsoft.Authorization/roleAssignments"


def _emulator(tmp_path: Path, replica: ReplicaConfig | None) -> Emulator:
    write_state_file(tmp_path / "state.json", initial_state())
    return start_emulator(tmp_path / "state.json", faults=FaultConfig(throttle=0, replica=replica))


def _backend(emulator: Emulator, tmp_path: Path) -> AzureBackend:
    return make_azure_backend(
        endpoints=endpoints_for(emulator, tmp_path / "endpoints.json"), environ=with_sign_in(FAST_ENV)
    )


def _apply(backend: AzureBackend, *changes: Change) -> ApplyResult:
    status = {Outcome.DONE: ChangeStatus.APPLIED, Outcome.ALREADY_DONE: ChangeStatus.ALREADY_DONE}
    return ApplyResult(tuple(ChangeResult(c, status[backend.apply_change(c)]) for c in changes))


CHANGES = (
    data_assignment(Action.CREATE, "/", CRYPTO_USER, APP),
    data_assignment(Action.CREATE, "/keys", CRYPTO_AUDITOR, APP),
    data_assignment(
        Action.DELETE,
        "/",
        CRYPTO_AUDITOR,
        "0a1b2c3d-0000-4000-8000-000000000004",
        name="00000000-0000-4000-8000-00000000a003",
    ),
    data_assignment(Action.CREATE, "/keys/k1", CRYPTO_USER, APP),
    role_definition(Action.CREATE, ("Microsoft.KeyVault/managedHsm/keys/read/action",)),
)


def test_without_lag_the_read_back_costs_one_list_per_scope(tmp_path: Path) -> None:
    with _emulator(tmp_path, None) as emulator, _backend(emulator, tmp_path) as backend:
        backend.read_state(request(full=True))
        applied = _apply(backend, *CHANGES)
        emulator.clear_log()
        result = verify_effect(applied, backend)
        assert [r.effect for r in result.results] == [Effect.IN_EFFECT] * len(CHANGES)
        gets = [path for method, path, _ in emulator.request_log if method == "GET"]
        # '/' (with '/keys'), '/keys/k1' and the definitions: 3 calls for 5 changes.
        assert len(gets) == 3, gets
        assert sum(1 for p in gets if p.endswith(_ASSIGNMENT_LISTS)) == 2
        assert backend.regions("contoso") == {PRIMARY_REGION}


def test_the_read_back_waits_for_the_replica_and_hears_both_regions(tmp_path: Path) -> None:
    clock = FakeClock()
    replica = ReplicaConfig(lag=30, share=0.5, clock=clock)
    with _emulator(tmp_path, replica) as emulator, _backend(emulator, tmp_path) as backend:
        backend.read_state(request(full=True))
        assert backend.regions("contoso") == {PRIMARY_REGION, REPLICA_REGION}  # discovery heard both
        applied = _apply(backend, *CHANGES)
        assert {r.status for r in applied.results} == {ChangeStatus.APPLIED}
        result = verify_effect(applied, backend, bound=600, clock=WaitClock(now=clock, sleep=clock.advance))
        assert [r.effect for r in result.results] == [Effect.IN_EFFECT] * len(CHANGES)
        assert result.verification is not None and 30 <= result.verification.waited < 60


def test_a_replica_that_never_catches_up_is_reported_by_region(tmp_path: Path) -> None:
    clock = FakeClock()
    replica = ReplicaConfig(lag=3600, share=0.5, clock=clock)
    with _emulator(tmp_path, replica) as emulator, _backend(emulator, tmp_path) as backend:
        backend.read_state(request(full=True))
        applied = _apply(backend, *CHANGES)
        result = verify_effect(applied, backend, bound=600, clock=WaitClock(now=clock, sleep=clock.advance))
        assert {r.effect for r in result.results} == {Effect.NOT_IN_EFFECT}
        assert {r.effect_note for r in result.results} == {f"not yet seen in region {REPLICA_REGION}"}
        # The primary has had everything all along.
        assert ("/", CRYPTO_USER, APP) in {
            (a.scope, a.role_definition_id, a.principal_id)
            for a in emulator.state().hsms["contoso"].role_assignments
        }


# -- Azure RBAC (management plane): ARM lists a role-assignment write a while after its 201 --------


def test_an_azure_role_assignment_is_read_back_by_one_listing_of_its_scope(tmp_path: Path) -> None:
    with _emulator(tmp_path, None) as emulator, _backend(emulator, tmp_path) as backend:
        backend.read_state(request(full=True))
        applied = _apply(backend, arm_assignment(Action.CREATE), arm_assignment(Action.CREATE, READER))
        emulator.clear_log()
        result = verify_effect(applied, backend)
        assert [r.effect for r in result.results] == [Effect.IN_EFFECT] * 2
        gets = [path for method, path, _ in emulator.request_log if method == "GET"]
        assert len(gets) == 1 and gets[0].endswith(_ASSIGNMENT_LISTS), gets  # one atScope() list


def test_an_azure_role_assignment_arm_does_not_list_yet_is_not_yet_in_effect(tmp_path: Path) -> None:
    """ARM accepts the write (201) but its listings lag: apply waits, and reports the change NOT
    YET IN EFFECT when the wait runs out first; once the listing shows it, it is in effect."""
    clock = FakeClock()
    with (
        _emulator(tmp_path, ReplicaConfig(arm=120, clock=clock)) as emulator,
        _backend(emulator, tmp_path) as backend,
    ):
        backend.read_state(request(full=True))
        create = arm_assignment(Action.CREATE)
        applied = _apply(backend, create)
        assert applied.results[0].status is ChangeStatus.APPLIED
        waited = WaitClock(now=clock, sleep=clock.advance)
        short = verify_effect(applied, backend, bound=60, clock=waited)
        assert short.results[0].effect is Effect.NOT_IN_EFFECT
        assert short.results[0].effect_note == f"not yet seen in its scope's listing ({ARM_VIEW})"
        assert short.verification is not None and short.verification.waited >= 60
        # The write is there (a GET by name sees it); only the listing lags.
        assert create.name in {a.name for a in emulator.state().arm.role_assignments}
        later = verify_effect(applied, backend, bound=600, clock=waited)
        assert later.results[0].effect is Effect.IN_EFFECT
        assert later.verification is not None and later.verification.waited < 120


def test_an_azure_role_assignment_delete_is_in_effect_once_arm_no_longer_lists_it(tmp_path: Path) -> None:
    clock = FakeClock()
    with (
        _emulator(tmp_path, ReplicaConfig(arm=30, clock=clock)) as emulator,
        _backend(emulator, tmp_path) as backend,
    ):
        backend.read_state(request(full=True))
        _apply(backend, arm_assignment(Action.CREATE))
        clock.advance(31)
        removed = _apply(backend, arm_assignment(Action.DELETE))
        at_once = verify_effect(removed, backend, bound=0, clock=WaitClock(now=clock, sleep=clock.advance))
        assert at_once.results[0].effect is Effect.NOT_IN_EFFECT  # still listed
        result = verify_effect(removed, backend, bound=600, clock=WaitClock(now=clock, sleep=clock.advance))
        assert result.results[0].effect is Effect.IN_EFFECT
