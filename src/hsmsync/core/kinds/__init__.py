"""One module per resource kind, behind one interface, registered in `KINDS`.

Each module says, for its kind: what its changes land on, how a saved plan's change of that kind
reads back (its subject), how a change edits a LiveState value (the semantics the state-file
backend, the lockout guard, the access delta and lint share), and where a renderer lists it.

Adding a resource kind:
1. its subject (the fields a change of it carries) in core/plan.py, and a `Kind` member;
2. its module here (target_kind, read_subject, edit, section) and its line in `KINDS`;
3. a planner function yielding its changes (core/planner_resources.py), and its `PHASES` entry;
4. its backend adapter (backends/azure/resources*.py; the state-file backend needs nothing);
5. tests: planner, saved-plan round trip, file backend, and the live backend against the emulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from hsmsync.core.kinds import (
    access_policy,
    data_setting,
    diagnostic_setting,
    role_assignment,
    role_definition,
    setting,
)
from hsmsync.core.plan import Change, Kind, Plane, Subject
from hsmsync.core.results import Outcome
from hsmsync.core.target import Target, TargetKind

if TYPE_CHECKING:
    from hsmsync.core.state_edits import StateEditor


class ResourceKind(Protocol):
    def target_kind(self, plane: Plane, text: str) -> TargetKind:
        """What a change of this kind lands on, from its plan-JSON target text."""
        ...

    def read_subject(self, plane: Plane, target: Target, d: Mapping[str, Any]) -> Subject:
        """A saved plan's change of this kind, its subject (ValueError for fields it never has)."""
        ...

    def edit(self, editor: StateEditor, change: Change) -> Outcome:
        """Apply one change to the state being edited, idempotently like the service."""
        ...

    def section(self, change: Change) -> tuple[int, str]:
        """The heading a renderer lists the change under, with the heading's rank."""
        ...


KINDS: dict[Kind, ResourceKind] = {
    Kind.ROLE_DEFINITION: role_definition,
    Kind.ROLE_ASSIGNMENT: role_assignment,
    Kind.ACCESS_POLICY: access_policy,
    Kind.SETTING: setting,
    Kind.DIAGNOSTIC_SETTING: diagnostic_setting,
    Kind.DATA_SETTING: data_setting,
}


def kind_of(change: Change) -> ResourceKind:
    return KINDS[change.kind]
