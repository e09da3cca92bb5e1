"""The backend port: read live state for what a manifest covers; apply one change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, Self

from hsmsync.core.effect import Observation, ReadBack
from hsmsync.core.errors import StateError
from hsmsync.core.guard import Caller
from hsmsync.core.plan import Change
from hsmsync.core.results import Outcome as Outcome  # the core's one Outcome, re-exported for backends
from hsmsync.core.state import LiveState


class KeyDetail(StrEnum):
    """How much a read learns about each key beyond its name."""

    NONE = "names"
    ATTRIBUTES = "attributes"
    TYPES = "attributes and type"


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
    # Every principal's ARM assignments at `arm_scopes`, not only the manifest's (management prune).
    arm_full_discovery: bool = False
    # HSMs whose data-plane settings the manifest manages (KeyVaultSettingsClient).
    data_settings: frozenset[str] = frozenset()
    # Those settings only if they can be read (export): one that cannot be read is left None and
    # named by `unread`, instead of an error.
    data_settings_if_readable: bool = False
    # Every key with its attributes (expiry, dates): lint's key rules; with its type as well
    # (one read per key on a live backend): `hsmsync keys`.
    key_details: KeyDetail = KeyDetail.NONE
    # Also the directory behind the assignments found: groups' members and PIM for Groups
    # memberships (whocan, explain). A state file always has its `directory`.
    directory: bool = False
    # The directory only if it can be read (the plan's review): a Graph that cannot be read
    # leaves `directory` None and a note in `describe`, instead of an error.
    directory_if_readable: bool = False


def _same(a: str, b: str) -> bool:
    """URLs and ARM ids compare case-insensitively, with or without a trailing slash."""
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def target_mismatches(request: ReadRequest, live: LiveState) -> list[str]:
    """Where the manifest's `url` or `resource_id` of an HSM or vault disagrees with what the
    backend found under that name: planning against the wrong resource must be an error."""
    found: list[tuple[str, HsmRef | VaultRef, str, str]] = []
    for href in request.hsms:
        if (hsm := live.hsms.get(href.name)) is not None:
            found.append(("HSM", href, hsm.url, hsm.resource_id))
    for vref in request.vaults:
        if (vault := live.vaults.get(vref.name)) is not None:
            found.append(("vault", vref, vault.url, vault.resource_id))
    out = []
    for kind, ref, url, resource_id in found:
        if url and ref.url and not _same(url, ref.url):
            out.append(f"{kind} '{ref.name}': the manifest's url is {ref.url}, but the backend finds {url}")
        if resource_id and ref.resource_id and not _same(resource_id, ref.resource_id):
            out.append(
                f"{kind} '{ref.name}': the manifest's resource_id is {ref.resource_id}, "
                f"but the backend finds {resource_id}"
            )
    return out


def check_targets(request: ReadRequest, live: LiveState, source: str) -> LiveState:
    """`live`, or a StateError naming every identifier that disagrees with the manifest."""
    problems = target_mismatches(request, live)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise StateError(
            f"{source}: the manifest does not describe what the backend finds:\n{listing}\n"
            "Correct the manifest (a typo plans against the wrong resource, or none)."
        )
    return live


class DiscoveryReporter(Protocol):
    """Discovery progress hooks (called from worker threads; implementations must be thread-safe)."""

    def discovery_started(self, hsms: int) -> None: ...

    def discovery_progress(self, total: int, done: int) -> None:
        """`total` more list calls became known; `done` more were made."""
        ...

    def discovery_finished(self) -> None: ...


class ChangeApplier(Protocol):
    """What the applier needs of a backend: one change at a time."""

    def apply_change(self, change: Change) -> Outcome:
        """Apply one change idempotently; raise BackendError on failure."""
        ...


class EffectReader(Protocol):
    """What the applier needs to see changes take effect (`core/effect.py`)."""

    def read_back(self, reads: Sequence[ReadBack]) -> list[Observation]:
        """One answer per read (an unreadable one carries its error instead of raising)."""
        ...

    def regions(self, hsm: str) -> frozenset[str]:
        """The regions that have answered for this HSM so far in this run."""
        ...


class StateBackend(ChangeApplier, EffectReader, Protocol):
    """Everything a command uses of a backend. A backend is a context manager: leaving the block
    closes what it holds (SDK clients and their transports). Discovery progress is given when the
    backend is opened (`registry.open_backend(progress=...)`)."""

    @property
    def workers(self) -> int:
        """How many HSMs, vaults and ARM scopes the applier may work on at once (at least 1)."""
        ...

    def describe(self) -> str:
        """One line for the plan header: which backend, which discovery mode."""
        ...

    def read_state(self, request: ReadRequest) -> LiveState: ...

    def caller(self) -> Caller | None:
        """The identity that applies changes, when the backend can tell (for the lockout guard)."""
        ...

    def other_writers(self) -> list[str]:
        """Signs, one line each, that someone else changed the same resources during this run."""
        ...

    def unread(self) -> list[str]:
        """What the last `read_state` could not read and did without (`directory_if_readable`,
        `data_settings_if_readable`), one line each: the plan warns of each, export notes it."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
