"""A second region for an HSM: role assignments and definitions reach it after a lag.

A multi-region Managed HSM shares roles and permissions between its two regions, and a write
"may take up to 6 minutes before both regions are fully replicated"; Traffic Manager may send
consecutive calls to either region. Azure also answers 201 before an assignment is in effect even
in the region that took the write. The emulator models both (ASSUMPTIONS.md, "Replica region"):

- every write lands on the primary and is checked against the newest state (a repeated PUT
  still finds the name taken);
- the primary serves reads and checks authorization against the state as it was `delay` seconds
  ago, the replica against the state as it was `max(lag, delay)` seconds ago;
- a `share` of the RBAC reads (GET of role assignments and definitions) is served by the replica,
  every `1/share`-th one (round robin) or, with a `seed`, at random from that seed; every answer
  names its region in `x-ms-keyvault-region`.

Spec string (comma-separated `key=value`, all optional):

    lag=6m       how long a write takes to reach the replica (`ms`, `s`, `m`, or bare seconds)
    share=0.5    the share of RBAC reads the replica serves (0 to 1)
    delay=2s     propagation delay on the primary: how long after its 201 a write is in effect
    seed=7       draw the region at random from this seed instead of round robin
    hsm=a+b      the HSMs that have the replica (default: every HSM of the state)
    arm=30s      ARM's lag: an Azure role-assignment write (PUT, DELETE) shows in ARM's listings
                 of role assignments this long after its answer (writes and GETs by name see it
                 at once); ARM names no region
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from hsmsync.core.state import LiveState
from hsmsync_emulator.server import Request
from hsmsync_emulator.specs import spec_items
from hsmsync_emulator.store import Store

T = TypeVar("T")
PRIMARY_REGION = "emulator"  # what every answer named before the emulator had regions
REPLICA_REGION = "emulator-replica"
_RBAC_PATH = re.compile(r"/providers/microsoft\.authorization/", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    lag: float = 0.0
    share: float = 0.0
    delay: float = 0.0
    seed: int | None = None
    hsms: frozenset[str] = field(default_factory=frozenset)  # empty: every HSM
    arm: float = 0.0  # how long an Azure role-assignment write takes to show in ARM's listings
    # The time writes lag by (tests pass a clock they advance themselves).
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.lag < 0 or self.delay < 0 or self.arm < 0:
            raise ValueError("lag, delay and arm must not be negative")
        if not 0 <= self.share <= 1:
            raise ValueError("share must be between 0 and 1")

    def covers(self, hsm: str) -> bool:
        return not self.hsms or hsm in self.hsms

    @property
    def replica_age(self) -> float:
        """A write reaches the replica no sooner than it takes effect on the primary."""
        return max(self.lag, self.delay)

    @property
    def history(self) -> float:
        """How far into the past any view reads (the store keeps that much of it)."""
        return max(self.replica_age, self.arm)

    def describe(self) -> str:
        where = ", ".join(sorted(self.hsms)) if self.hsms else "every HSM"
        routing = f"at random (seed {self.seed})" if self.seed is not None else "round robin"
        return (
            f"replica region for {where}: lag {self.lag:g}s, serves {self.share:.0%} of RBAC reads "
            f"({routing}); primary propagation delay {self.delay:g}s"
            + (f"; ARM role-assignment listings lag {self.arm:g}s" if self.arm else "")
        )


def _seconds(value: str) -> float:
    text = value.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _hsm_names(value: str) -> frozenset[str]:
    return frozenset(h.strip() for h in value.split("+") if h.strip())


_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "lag": ("lag", _seconds),
    "share": ("share", float),
    "delay": ("delay", _seconds),
    "seed": ("seed", int),
    "hsm": ("hsms", _hsm_names),
    "arm": ("arm", _seconds),
}


def parse_replica(spec: str) -> ReplicaConfig:
    """Parse `lag=6m,share=0.5,...` (see the module docstring). Raises ValueError, naming the item."""
    config = ReplicaConfig()
    for item, key, value in spec_items(spec, "replica"):
        if key not in _FIELDS:
            raise ValueError(f"replica '{item}': unknown key '{key}' (known: {', '.join(_FIELDS)})")
        name, convert = _FIELDS[key]
        try:
            config = replace(config, **{name: convert(value)})
        except ValueError as exc:
            raise ValueError(f"replica '{item}': {exc}") from None
        if not math.isfinite(config.lag + config.delay + config.arm):
            raise ValueError(f"replica '{item}': not a finite number of seconds")
    return config


class RegionView:
    """One region's view of the store: reads see the state of `age` seconds ago; writes go to
    the store itself (they land on the primary, checked against the newest state)."""

    def __init__(self, store: Store, age: float) -> None:
        self._store = store
        self.age = age

    def read(self) -> LiveState:
        return self._store.read_as_of(self.age)

    def update(self, change: Callable[[LiveState], tuple[LiveState, T]]) -> T:
        return self._store.update(change)


class RegionChooser:
    """Which region serves a request: writes and key calls the primary; RBAC reads the replica
    for `share` of them, by round robin or from the seeded generator (both reproducible)."""

    def __init__(self, config: ReplicaConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._count = 0
        self._rng = random.Random(config.seed)

    def replica_serves(self, request: Request) -> bool:
        share = self._config.share
        if share <= 0 or request.method != "GET" or not _RBAC_PATH.search(request.path):
            return False
        with self._lock:
            if self._config.seed is not None:
                return self._rng.random() < share
            n, self._count = self._count, self._count + 1
            # Request n goes to the replica when the running total of `share` passes a whole number.
            return math.floor((n + 1) * share) > math.floor(n * share)
