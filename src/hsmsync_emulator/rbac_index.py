"""One HSM's role assignments by scope, so that listing a key scope does not scan every assignment.

The store replaces an `HsmState` on every change (it is immutable), so an index built for one
state object stays right for as long as that object is the HSM's state.
"""

from __future__ import annotations

import heapq

from hsmsync.core.state import DataRoleAssignment, HsmState

HSM_WIDE = ("/", "/keys")
_Placed = tuple[int, DataRoleAssignment]  # (position in the state, assignment)


class AssignmentIndex:
    """The assignments of `hsm` at the HSM-wide scopes, and at each other scope (lower-cased)."""

    def __init__(self, hsm: HsmState) -> None:
        self.hsm = hsm
        self._wide: list[_Placed] = []
        self._by_scope: dict[str, list[_Placed]] = {}
        for placed in enumerate(hsm.role_assignments):
            if placed[1].scope in HSM_WIDE:
                self._wide.append(placed)
            else:
                self._by_scope.setdefault(placed[1].scope.lower(), []).append(placed)

    def visible_at(self, scope: str) -> list[DataRoleAssignment]:
        """What a list at `scope` without a principal filter returns (`rbac._hsm_level_visible`):
        at '/' and '/keys' the HSM-wide assignments, at a key scope those and the key's own; in
        the state's order, as a scan would give them."""
        if scope in HSM_WIDE:
            return [a for _, a in self._wide]
        own = self._by_scope.get(scope.lower(), [])
        return [a for _, a in heapq.merge(self._wide, own, key=lambda placed: placed[0])]
