"""Both backends refuse a change the planner never makes, with the same clear error, and change
nothing (an `update` of an assignment ran as a delete on the file and as a create on Azure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync.backends.file import FileStateBackend
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import Action, Kind, Plane
from hsmsync.core.state import DiagnosticSetting, LiveState
from hsmsync.core.target import Target
from hsmsync_files.statefile import read_state_file, write_state_file
from tests.changes import flat_change
from tests.live.conftest import ADMIN, ADMINISTRATOR, HSM, HSM_RID, initial_state
from tests.live.conftest import request as read_request

_ASSIGNMENT: dict[str, Any] = dict(
    id="c1",
    action=Action.UPDATE,
    kind=Kind.ROLE_ASSIGNMENT,
    plane=Plane.DATA,
    target=Target.hsm(HSM),
    scope="/",
    name="00000000-0000-4000-8000-00000000a001",  # the Administrator assignment of ADMIN
    role="Managed HSM Administrator",
    role_id=ADMINISTRATOR,
    reason="edited plan",
    principal="admin",
    principal_id=ADMIN,
)
EXISTING = flat_change(**_ASSIGNMENT)
CASES = {
    "update an assignment": (
        EXISTING,
        "cannot update a Managed HSM role assignment (it is only ever created or deleted",
    ),
    "no principal": (
        flat_change(**{**_ASSIGNMENT, "action": Action.CREATE, "principal_id": None}),
        "create role assignment without a principal id",
    ),
    "delete a diagnostic setting": (
        flat_change(
            **{
                **_ASSIGNMENT,
                "action": Action.DELETE,
                "kind": Kind.DIAGNOSTIC_SETTING,
                "plane": Plane.MANAGEMENT,
                "scope": HSM_RID,
                "name": "diag",
                "payload": DiagnosticSetting(name="diag", categories=("AuditEvent",), workspace_id="/w"),
            }
        ),
        "cannot delete a diagnostic setting (a diagnostic setting is only ever created or updated)",
    ),
    "role definition without its definition": (
        flat_change(**{**_ASSIGNMENT, "action": Action.CREATE, "kind": Kind.ROLE_DEFINITION}),
        "create role definition without the role definition",
    ),
}


@pytest.fixture(params=["file", "azure"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """(backend, a function returning the current live state) for each backend."""
    if request.param == "file":
        path = tmp_path / "state.json"
        write_state_file(path, initial_state())
        yield FileStateBackend(path), lambda: read_state_file(path)
    else:
        emulator = request.getfixturevalue("emulator")
        backend = request.getfixturevalue("backend")
        backend.read_state(read_request())
        yield backend, emulator.state


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_backends_refuse_a_change_the_planner_never_makes(target: tuple[Any, Any], case: str) -> None:
    backend, live = target
    change, message = CASES[case]
    before: LiveState = live()
    with pytest.raises(BackendError) as caught:
        backend.apply_change(change)
    assert str(caught.value) == f"change c1: {message}" or str(caught.value).startswith(
        f"change c1: {message};"
    )
    assert live() == before
