"""ARM create: PrincipalNotFound is retried with backoff for a bounded time, then reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from hsmsync.backends.azure.management import ManagementPlane
from hsmsync.backends.azure.settings import AzureSettings
from hsmsync.backends.base import Outcome
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.target import ARM
from tests.changes import flat_change

from .test_helpers import OID, SUB, http_error

SCOPE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/contoso"
ROLE = "18500a29-7fe2-46b2-a342-b16a415e101d"


@dataclass
class FakeAssignments:
    failures: list[Any]
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def get(self, scope: str, name: str) -> object:
        raise ResourceNotFoundError("RoleAssignmentNotFound")

    def create(self, scope: str, name: str, parameters: Any) -> object:
        self.calls.append((scope, name, parameters))
        if self.failures:
            raise self.failures.pop(0)
        return object()


@dataclass
class FakeClients:
    settings: AzureSettings
    role_assignments: FakeAssignments
    arm_url: str = "https://management.azure.com"

    def authorization(self, subscription_id: str | None) -> Any:
        assert subscription_id == SUB
        return self


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _change() -> Change:
    return flat_change(
        id="c1",
        action=Action.CREATE,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=Plane.MANAGEMENT,
        target=ARM,
        scope=SCOPE,
        name="0d6b7c1e-1111-4222-8333-944444444444",
        role="Managed HSM Contributor",
        role_id=ROLE,
        reason="",
        principal_id=OID,
        principal_type="ServicePrincipal",
    )


def _plane(failures: list[Any], wait: float = 10.0) -> tuple[ManagementPlane, FakeAssignments, FakeClock]:
    assignments = FakeAssignments(failures)
    clock = FakeClock()
    settings = AzureSettings(principal_wait_seconds=wait, principal_wait_interval=1.0)
    plane = ManagementPlane(FakeClients(settings, assignments), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    return plane, assignments, clock


def not_found() -> Any:
    return http_error(400, "PrincipalNotFound", f"Principal {OID} does not exist in the directory.")


def test_principal_not_found_then_success() -> None:
    plane, assignments, clock = _plane([not_found(), not_found()])
    assert plane.apply(_change()) is Outcome.DONE
    assert clock.sleeps == [1.0, 2.0] and len(assignments.calls) == 3
    params = assignments.calls[0][2]
    assert params.principal_type == "ServicePrincipal"
    assert (
        params.role_definition_id
        == f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{ROLE}"
    )


def test_principal_not_found_gives_up_after_the_wait() -> None:
    plane, assignments, clock = _plane([not_found() for _ in range(20)], wait=10.0)
    with pytest.raises(BackendError, match="does not exist in the directory after retrying for 10s") as info:
        plane.apply(_change())
    assert info.value.code == "PrincipalNotFound"
    assert clock.now <= 10.0 and 3 <= len(assignments.calls) <= 5


def test_exists_is_already_done() -> None:
    plane, _, _ = _plane([http_error(409, "RoleAssignmentExists", "The role assignment already exists.")])
    assert plane.apply(_change()) is Outcome.ALREADY_DONE
