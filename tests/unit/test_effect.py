"""Applied means in effect: the pure read-back rules (core/effect.py) and the applier's bounded
wait (applier.verify_effect) over a scripted reader and a clock the test advances."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from hsmsync.applier import WaitClock, apply_plan, verify_effect
from hsmsync.backends.file import FILE_REGION, FileStateBackend
from hsmsync.backends.registry import read_request_for
from hsmsync.core.effect import EffectTracker, Observation, ReadBack, ReadKind, read_for, shows, tracker_for
from hsmsync.core.ids import deterministic_name
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.planner import plan_changes
from hsmsync.core.results import ApplyResult, ChangeResult, ChangeStatus, Effect
from hsmsync.core.state import DataRoleAssignment, Permission
from hsmsync.core.target import ARM, Target
from hsmsync.manifest import load_manifest
from tests.changes import flat_change
from tests.conftest import CONTOSO
from tests.live.test_e2e import role_definition

HSM = "h1"
ROLE = "21dbd100-6940-42c2-9190-5d6cb909625b"
ALICE = "aaaaaaaa-0000-4000-8000-000000000001"
BOB = "bbbbbbbb-0000-4000-8000-000000000002"
CUSTOM = "cccccccc-0000-4000-8000-000000000003"


def _assignment_change(action: Action, scope: str, principal: str, *, plane: Plane = Plane.DATA) -> Change:
    return flat_change(
        id=f"{action}:{scope}:{principal}",
        action=action,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=plane,
        target=Target.hsm(HSM) if plane is Plane.DATA else ARM,
        scope=scope,
        name=deterministic_name("data", HSM, scope, ROLE, principal),
        role="Crypto User",
        role_id=ROLE,
        reason="test",
        principal_id=principal,
    )


def _live(change: Change, name: str | None = None) -> DataRoleAssignment:
    return DataRoleAssignment(
        name=name or change.name,
        scope=change.scope,
        role_definition_id=ROLE,
        principal_id=change.principal_id,
    )


def _definition(action: Action, data_actions: tuple[str, ...]) -> Change:
    return role_definition(action, data_actions)  # the live tests' custom role (on HSM 'contoso')


def _applied(*changes: Change, status: ChangeStatus = ChangeStatus.APPLIED) -> ApplyResult:
    return ApplyResult(tuple(ChangeResult(c, status) for c in changes))


# -- the pure rules -------------------------------------------------------------------------------


def test_a_create_shows_by_its_natural_key_and_a_delete_by_its_absence() -> None:
    create = _assignment_change(Action.CREATE, "/keys/k1", ALICE)
    read = read_for(create)
    assert read == ReadBack(HSM, ReadKind.ASSIGNMENTS, "/keys/k1")
    assert not shows(create, Observation(read, "r1"))
    # "Already so" may have found the same grant under another name: that counts.
    other_name = _live(create, name="99999999-0000-4000-8000-000000000000")
    assert shows(create, Observation(read, "r1", assignments=(other_name,)))
    # The same grant at another scope (a key listing repeats the HSM-wide ones) does not.
    elsewhere = other_name.model_copy(update={"scope": "/"})
    assert not shows(create, Observation(read, "r1", assignments=(elsewhere,)))

    delete = _assignment_change(Action.DELETE, "/keys/K1", BOB)
    assert shows(delete, Observation(read_for(delete), "r1"))
    assert not shows(delete, Observation(read_for(delete), "r1", assignments=(_live(delete),)))


def test_hsm_wide_scopes_share_one_read_and_definitions_have_their_own() -> None:
    changes = [
        _assignment_change(Action.CREATE, "/", ALICE),
        _assignment_change(Action.CREATE, "/keys", ALICE),
        _assignment_change(Action.DELETE, "/", BOB),
        _assignment_change(Action.CREATE, "/keys/k1", BOB),
        _definition(Action.CREATE, ("Microsoft.KeyVault/managedHsm/keys/read/action",)),
    ]
    tracker = tracker_for(_applied(*changes).results)
    assert tracker.reads() == [
        ReadBack("contoso", ReadKind.DEFINITIONS, "/"),
        ReadBack(HSM, ReadKind.ASSIGNMENTS, "/"),
        ReadBack(HSM, ReadKind.ASSIGNMENTS, "/keys/k1"),
    ]
    assert tracker.reads(turn=1)[0] == ReadBack(HSM, ReadKind.ASSIGNMENTS, "/")  # rotated


def test_a_definition_is_in_effect_only_as_desired() -> None:
    create = _definition(Action.CREATE, ("Microsoft.KeyVault/managedHsm/keys/read/action",))
    read = read_for(create)
    assert create.definition is not None
    assert shows(create, Observation(read, "r", definitions=(create.definition,)))
    stale = create.definition.model_copy(update={"permissions": (Permission(),)})
    assert not shows(create, Observation(read, "r", definitions=(stale,)))
    delete = _definition(Action.DELETE, ())
    assert not shows(delete, Observation(read, "r", definitions=(create.definition,)))
    assert shows(delete, Observation(read, "r", definitions=()))


def test_applied_role_assignments_of_both_planes_are_read_back_failed_ones_not() -> None:
    data = _assignment_change(Action.CREATE, "/", ALICE)
    arm = _assignment_change(Action.CREATE, "/subscriptions/x", ALICE, plane=Plane.MANAGEMENT)
    failed = _assignment_change(Action.CREATE, "/keys/k9", BOB)
    results = (
        ChangeResult(data, ChangeStatus.ALREADY_DONE),
        ChangeResult(arm, ChangeStatus.APPLIED),
        ChangeResult(failed, ChangeStatus.FAILED, "no"),
    )
    assert list(tracker_for(results).changes) == [0, 1]  # the Azure role assignment too


def test_every_region_that_answered_must_show_the_change() -> None:
    create = _assignment_change(Action.CREATE, "/", ALICE)
    tracker = EffectTracker({0: create})
    tracker.learn_regions(HSM, {"west", "east"})  # discovery heard from both
    read = read_for(create)
    tracker.record(Observation(read, "west", assignments=(_live(create),)))
    assert not tracker.in_effect(0)
    assert tracker.why_not(0) == "not yet seen in region east"
    tracker.record(Observation(read, "east", error="403 AccessDenied"))  # a failed read proves nothing
    assert not tracker.in_effect(0)
    assert "last read failed: 403 AccessDenied" in tracker.why_not(0)
    tracker.record(Observation(read, "east", assignments=(_live(create),)))
    assert tracker.in_effect(0) and tracker.pending() == []


# -- the bounded wait -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def wait_clock(self) -> WaitClock:
        return WaitClock(now=lambda: self.now, sleep=self.sleep)


class LaggingReader:
    """Two regions, answering in turn; the second shows what `shown` holds only after `lag` s."""

    def __init__(self, clock: Clock, shown: tuple[DataRoleAssignment, ...], lag: float) -> None:
        self.clock, self.shown, self.lag = clock, shown, lag
        self.reads: list[ReadBack] = []

    def regions(self, hsm: str) -> frozenset[str]:
        return frozenset({"primary", "replica"})

    def read_back(self, reads: Sequence[ReadBack]) -> list[Observation]:
        out = []
        for read in reads:
            region = "replica" if len(self.reads) % 2 else "primary"
            self.reads.append(read)
            caught_up = region == "primary" or self.clock.now >= self.lag
            out.append(Observation(read, region, assignments=self.shown if caught_up else ()))
        return out


class Waits:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, float, float]] = []

    def change_started(self, change: Change) -> None: ...

    def change_finished(self, result: ChangeResult) -> None: ...

    def effect_waiting(self, pending: int, checked: int, waited: float, bound: float) -> None:
        self.calls.append((pending, checked, waited, bound))


def test_the_wait_converges_once_the_lagging_region_catches_up() -> None:
    clock = Clock()
    create = _assignment_change(Action.CREATE, "/", ALICE)
    reader = LaggingReader(clock, (_live(create),), lag=3.0)
    waits = Waits()
    result = verify_effect(_applied(create), reader, bound=600, reporter=waits, clock=clock.wait_clock)
    assert [r.effect for r in result.results] == [Effect.IN_EFFECT]
    assert result.in_effect and result.verification is not None
    assert 3.0 <= result.verification.waited < 10
    assert clock.sleeps[:3] == [0.25, 0.5, 1.0]  # the waits double
    assert waits.calls and waits.calls[0] == (1, 1, 0.0, 600)  # the visible wait


def test_a_bound_too_short_reports_not_in_effect() -> None:
    clock = Clock()
    create = _assignment_change(Action.CREATE, "/", ALICE)
    reader = LaggingReader(clock, (_live(create),), lag=360.0)
    result = verify_effect(_applied(create), reader, bound=5, clock=clock.wait_clock)
    assert [r.effect for r in result.results] == [Effect.NOT_IN_EFFECT]
    assert result.results[0].effect_note == "not yet seen in region replica"
    assert not result.in_effect and result.ok  # written, not in effect
    assert result.verification is not None and result.verification.waited == 5
    assert sum(clock.sleeps) == 5  # never sleeps past the bound


def test_no_wait_reads_nothing() -> None:
    clock = Clock()
    create = _assignment_change(Action.CREATE, "/", ALICE)
    reader = LaggingReader(clock, (), lag=0)
    result = verify_effect(_applied(create), reader, bound=None, clock=clock.wait_clock)
    assert reader.reads == [] and clock.sleeps == []
    assert [r.effect for r in result.results] == [Effect.NOT_CHECKED]
    assert result.in_effect  # not checked is not "not in effect"


def test_a_consistent_backend_costs_one_read_per_scope_and_no_wait(tmp_path: Path) -> None:
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "state.json")
    backend = FileStateBackend(tmp_path / "state.json")
    desired = load_manifest(CONTOSO / "hsmsync.yaml").desired
    plan = plan_changes(desired, backend.read_state(read_request_for(desired)))
    applied = apply_plan(plan, backend)

    class Counting:
        def __init__(self) -> None:
            self.reads: list[ReadBack] = []

        def regions(self, hsm: str) -> frozenset[str]:
            return backend.regions(hsm)

        def read_back(self, reads: Sequence[ReadBack]) -> list[Observation]:
            self.reads.extend(reads)
            return backend.read_back(reads)

    clock, counting = Clock(), Counting()
    result = verify_effect(applied, counting, clock=clock.wait_clock)
    checked = [r for r in result.results if r.effect is not None]
    assert len(checked) == 11 and {r.effect for r in checked} == {Effect.IN_EFFECT}
    # On the HSM 5 assignments at '/', '/keys' and one key, and a role definition: 3 reads; 2 Azure
    # role assignments at the resource group: 1 read; 3 access-policy entries of one vault: 1
    # read. No sleep.
    assert len(counting.reads) == 5 and clock.sleeps == []
    assert sorted(r.kind for r in counting.reads if r.kind.management) == [
        ReadKind.ACCESS_POLICIES,
        ReadKind.ARM_ASSIGNMENTS,
    ]
    assert backend.regions("contoso") == {FILE_REGION}


def test_the_file_backend_shows_what_it_does_not_hold(tmp_path: Path) -> None:
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "state.json")
    backend = FileStateBackend(tmp_path / "state.json")
    create = _assignment_change(Action.CREATE, "/", ALICE)  # on HSM 'h1', which the file lacks
    result = verify_effect(_applied(create), backend, bound=0, clock=Clock().wait_clock)
    assert result.results[0].effect is Effect.NOT_IN_EFFECT
    assert result.results[0].effect_note == "could not be read back: HSM 'h1' not in " + str(
        tmp_path / "state.json"
    )


def test_a_read_denied_again_and_again_is_not_waited_for() -> None:
    create = _assignment_change(Action.CREATE, "/", ALICE)
    read = read_for(create)
    tracker = EffectTracker({0: create})
    tracker.learn_regions(HSM, {"west", "east"})
    denial = Observation(read, "", error="403 AccessDenied", denied=True)  # denials name no region
    for _ in range(3):
        tracker.record(denial)
    assert not tracker.unreadable(0) and tracker.pending() == [0]  # another region may answer
    tracker.record(Observation(read, "west", assignments=()))  # it did: the streak starts again
    for _ in range(3):
        tracker.record(denial)
    assert not tracker.unreadable(0)
    tracker.record(denial)  # four in a row, two regions
    assert tracker.unreadable(0) and tracker.pending() == []
    assert tracker.why_not(0) == "not yet seen in region east, west (last read failed: 403 AccessDenied)"


class Denying:
    """One region that denies every read (the apply took the applier's own read right away)."""

    def __init__(self) -> None:
        self.reads = 0

    def regions(self, hsm: str) -> frozenset[str]:
        return frozenset({"only"})

    def read_back(self, reads: Sequence[ReadBack]) -> list[Observation]:
        self.reads += len(reads)
        return [Observation(r, "", error="403 AccessDenied", denied=True) for r in reads]


def test_an_apply_that_took_its_own_read_right_reports_it_without_waiting() -> None:
    clock, reader = Clock(), Denying()
    create = _assignment_change(Action.DELETE, "/", ALICE)
    result = verify_effect(_applied(create), reader, bound=600, clock=clock.wait_clock)
    assert [r.effect for r in result.results] == [Effect.UNREADABLE]
    assert reader.reads == 2 and clock.sleeps == [0.25]  # denied twice in a row, one region
    assert result.in_effect  # nothing is known to be missing: the exit status stays 0
