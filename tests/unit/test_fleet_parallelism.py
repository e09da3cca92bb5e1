"""By default the live backend works on every HSM of a large fleet at once, in discovery and in
apply: each HSM is paced by its own bucket, so the service's floor (the slowest HSM's calls / its
rate) is reached only if no HSM waits for another's turn. (A pool of 32 ran a 50-HSM fleet in
two waves: twice the floor.)"""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

from hsmsync.applier import apply_plan
from hsmsync.backends.azure import AzureBackend
from hsmsync.backends.azure.discovery import Discovery, DiscoveryMode
from hsmsync.backends.azure.resources_common import ResourceReading
from hsmsync.backends.azure.settings import AzureSettings
from hsmsync.backends.base import HsmRef, Outcome, ReadRequest
from hsmsync.core.plan import Action, Change, Kind, Plan, Plane
from hsmsync.core.state import ArmState, HsmState
from hsmsync.core.target import Target
from tests.changes import flat_change

FLEET = 120  # more HSMs than one job should hold by the README's shard rule


def _refs() -> tuple[HsmRef, ...]:
    return tuple(HsmRef(f"hsm{i:03d}", f"https://hsm{i:03d}.managedhsm.azure.net", "") for i in range(FLEET))


def test_discovery_reads_every_hsm_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = AzureBackend(AzureSettings(credential=object()))  # type: ignore[arg-type]  # never used
    together = threading.Barrier(FLEET, timeout=20)

    def read_hsm(ref: HsmRef, request: ReadRequest) -> tuple[HsmState, Discovery, None]:
        together.wait()  # returns only once every HSM's discovery is under way
        state = HsmState(url=ref.url, resource_id=ref.resource_id)
        return state, Discovery(ref.name, DiscoveryMode.FULL, 0, 0), None

    monkeypatch.setattr(backend, "sign_in", lambda: None)
    monkeypatch.setattr(backend, "_read_hsm", read_hsm)
    monkeypatch.setattr(backend, "_read_arm", lambda request: ArmState())
    monkeypatch.setattr(backend.resources, "read", lambda request: ResourceReading())
    live = backend.read_state(ReadRequest(hsms=_refs(), arm_scopes=(), principal_ids=(), key_scopes={}))
    assert len(live.hsms) == FLEET


class _Together:
    """Applies a change only once every HSM's first change has started."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(FLEET, timeout=20)

    def apply_change(self, change: Change) -> Outcome:
        self.barrier.wait()
        return Outcome.DONE

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def _one_change_per_hsm(refs: tuple[HsmRef, ...]) -> tuple[Change, ...]:
    return tuple(
        flat_change(
            id=f"c{i}",
            action=Action.CREATE,
            kind=Kind.ROLE_ASSIGNMENT,
            plane=Plane.DATA,
            target=Target.hsm(ref.name),
            scope="/",
            name=f"00000000-0000-4000-8000-{i:012d}",
            role="Crypto User",
            role_id="21dbd100-6940-42c2-9190-5d6cb909625b",
            reason="test",
            principal="p",
            principal_id="0b000000-0000-4000-8000-000000000001",
        )
        for i, ref in enumerate(refs)
    )


def test_apply_runs_every_hsms_lane_at_once() -> None:
    backend = AzureBackend(AzureSettings(credential=object()))  # type: ignore[arg-type]
    changes = _one_change_per_hsm(_refs())
    result = apply_plan(Plan(changes=changes), _Together(), workers=backend.workers)
    assert result.ok


def test_what_exists_before_discovery_is_set_aside_from_the_collector_while_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = AzureBackend(AzureSettings(credential=object()))  # type: ignore[arg-type]
    held_before = object()  # stands for the manifest and desired state
    frozen_during: list[int] = []

    def read_hsm(ref: HsmRef, request: ReadRequest) -> tuple[HsmState, Discovery, None]:
        frozen_during.append(gc.get_freeze_count())
        return HsmState(url=ref.url), Discovery(ref.name, DiscoveryMode.FULL, 0, 0), None

    monkeypatch.setattr(backend, "sign_in", lambda: None)
    monkeypatch.setattr(backend, "_read_hsm", read_hsm)
    monkeypatch.setattr(backend, "_read_arm", lambda request: ArmState())
    monkeypatch.setattr(backend.resources, "read", lambda request: ResourceReading())
    backend.read_state(ReadRequest(hsms=_refs()[:2], arm_scopes=(), principal_ids=(), key_scopes={}))
    assert held_before is not None and all(n > 0 for n in frozen_during) and len(frozen_during) == 2
    assert gc.get_freeze_count() == 0  # and back to the collector afterwards


class _Recording:
    """Applies every change, noting whether the collector had things set aside meanwhile."""

    def __init__(self) -> None:
        self.frozen_during: list[int] = []

    def apply_change(self, change: Change) -> Outcome:
        self.frozen_during.append(gc.get_freeze_count())
        return Outcome.DONE

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


@pytest.mark.parametrize("workers", [1, 8])
def test_what_exists_before_apply_is_set_aside_from_the_collector_while_it_runs(workers: int) -> None:
    # Issue 16: a shard's apply ran 1.10-1.41x its floor while the collector walked the manifest,
    # the states and the plan on every full collection; discovery already set them aside.
    changes = _one_change_per_hsm(_refs()[:4])
    backend = _Recording()
    assert apply_plan(Plan(changes=changes), backend, workers=workers).ok
    assert len(backend.frozen_during) == 4 and all(n > 0 for n in backend.frozen_during)
    assert gc.get_freeze_count() == 0  # and back to the collector afterwards
