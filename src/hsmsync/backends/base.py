"""The backend port: read live state for what a manifest covers; apply one change."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from hsmsync.core.guard import Caller
from hsmsync.core.plan import Change
from hsmsync.core.state import LiveState


@dataclass(frozen=True, slots=True)
class HsmRef:
    name: str
    url: str
    resource_id: str


@dataclass(frozen=True, slots=True)
class VaultRef:
    name: str
    url: str
    resource_id: str


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """What to discover: the manifest's HSMs, ARM scopes and principals."""

    hsms: tuple[HsmRef, ...]
    arm_scopes: tuple[str, ...]
    principal_ids: tuple[str, ...]
    key_scopes: dict[str, tuple[str, ...]]  # hsm name -> key names the manifest names
    # HSMs whose every assignment must be found (they prune): a live backend then lists all keys
    # and the assignments at each key scope instead of querying only the manifest's principals.
    full_discovery: frozenset[str] = frozenset()
    vaults: tuple[VaultRef, ...] = ()
    # Where the manifest's custom Azure roles are assignable: their definitions are read there too.
    arm_role_scopes: tuple[str, ...] = ()
    # Also keep the ARM assignments inherited from above `arm_scopes` (at their own scopes): an
    # export declares every assignment that reaches its HSMs and vaults.
    arm_inherited: bool = False


class Outcome(StrEnum):
    DONE = "done"
    ALREADY_DONE = "already_done"  # e.g. the assignment existed, or the delete found nothing


class StateBackend(Protocol):
    def describe(self) -> str:
        """One line for the plan header: which backend, which discovery mode."""
        ...

    def read_state(self, request: ReadRequest) -> LiveState: ...

    def caller(self) -> Caller | None:
        """The identity that applies changes, when the backend can tell (for the lockout guard)."""
        ...

    def apply_change(self, change: Change) -> Outcome:
        """Apply one change idempotently; raise BackendError on failure."""
        ...
