"""Fault injection and throttling: latency, random 429/500/503, dropped connections, a token bucket.

Spec string (comma-separated `key=value`, all optional):

    latency=20ms   added to every authenticated request (`ms`, `s`, or a bare number of ms)
    429=0.1        probability of an injected 429 Throttled (with Retry-After headers)
    500=0.05       probability of an injected 500 InternalServerError
    503=0.05       probability of an injected 503 ServiceUnavailable
    drop=0.02      probability that the connection is closed without an answer
    seed=7         seed of the one random generator (reproducible given the request order)
    throttle=5     RBAC operations per second per HSM (token bucket); 0 disables
    page=100       page size of list operations (nextLink paging)
    reply=html     answer every authenticated request with a reply hsmsync must reject clearly:
                   `html` (200, an HTML page, as a proxy or sign-in portal sends), `shape` (200,
                   JSON of the wrong shape), `challenge` (401 naming another authority and resource)
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, replace
from enum import Enum

from hsmsync_emulator.replica import ReplicaConfig
from hsmsync_emulator.specs import spec_items

DEFAULT_THROTTLE = 5.0
DEFAULT_PAGE_SIZE = 100
REPLY_FAULTS = ("html", "shape", "challenge")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    latency_ms: float = 0.0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    drop: float = 0.0
    seed: int | None = None
    throttle: float = DEFAULT_THROTTLE
    page_size: int = DEFAULT_PAGE_SIZE
    reply: str | None = None  # one of REPLY_FAULTS: every authenticated request gets that reply
    replica: ReplicaConfig | None = None  # a second region that lags (`--replica`, fixed at start)

    def __post_init__(self) -> None:
        rates = (self.rate_429, self.rate_500, self.rate_503, self.drop)
        if any(r < 0 or r > 1 for r in rates):
            raise ValueError("fault rates must be between 0 and 1")
        if sum(rates) > 1:
            raise ValueError("fault rates add up to more than 1")
        if self.latency_ms < 0:
            raise ValueError("latency must not be negative")
        if self.throttle < 0:
            raise ValueError("throttle must be 0 (off) or a positive rate")
        if self.page_size < 1:
            raise ValueError("page size must be at least 1")
        if self.reply is not None and self.reply not in REPLY_FAULTS:
            raise ValueError(f"reply must be one of {', '.join(REPLY_FAULTS)}")


def _latency(value: str) -> float:
    text = value.strip().lower()
    if text.endswith("ms"):
        return float(text[:-2])
    if text.endswith("s"):
        return float(text[:-1]) * 1000.0
    return float(text)


def parse_faults(spec: str) -> FaultConfig:
    """Parse `latency=20ms,429=0.1,...` (see the module docstring). Raises ValueError, naming the item."""
    config = FaultConfig()
    for item, key, value in spec_items(spec, "fault"):
        try:
            if key == "latency":
                config = replace(config, latency_ms=_latency(value))
            elif key == "429":
                config = replace(config, rate_429=float(value))
            elif key == "500":
                config = replace(config, rate_500=float(value))
            elif key == "503":
                config = replace(config, rate_503=float(value))
            elif key == "drop":
                config = replace(config, drop=float(value))
            elif key == "seed":
                config = replace(config, seed=int(value))
            elif key == "throttle":
                config = replace(config, throttle=float(value))
            elif key in ("page", "page_size"):
                config = replace(config, page_size=int(value))
            elif key == "reply":
                config = replace(config, reply=value.strip().lower())
            else:
                raise ValueError(
                    f"fault '{item}': unknown key '{key}' "
                    "(known: latency, 429, 500, 503, drop, seed, throttle, page, reply)"
                )
        except ValueError as exc:
            if str(exc).startswith("fault '"):
                raise
            raise ValueError(f"fault '{item}': {exc}") from None
    return config


class Fault(Enum):
    NONE = "none"
    THROTTLE = "429"
    INTERNAL = "500"
    UNAVAILABLE = "503"
    DROP = "drop"


class FaultInjector:
    """Draws one fault decision per authenticated request from a single seeded generator."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._config = config
        self._rng = random.Random(config.seed)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def reconfigure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)

    def draw(self) -> Fault:
        with self._lock:
            c = self._config
            if not (c.drop or c.rate_429 or c.rate_500 or c.rate_503):
                return Fault.NONE
            r = self._rng.random()
        for fault, rate in (
            (Fault.DROP, c.drop),
            (Fault.THROTTLE, c.rate_429),
            (Fault.INTERNAL, c.rate_500),
            (Fault.UNAVAILABLE, c.rate_503),
        ):
            if r < rate:
                return fault
            r -= rate
        return Fault.NONE


class TokenBucket:
    """`rate` operations per second with a burst of `max(1, rate)`; thread-safe."""

    def __init__(self, rate: float) -> None:
        self._lock = threading.Lock()
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._stamp = time.monotonic()

    def take(self) -> float:
        """0.0 when the operation may proceed, else the seconds until a token will be available."""
        if self._rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self._rate


def retry_after_headers(seconds: float) -> dict[str, str]:
    """`Retry-After` in whole seconds (rounded up) and the exact wait in `x-ms-retry-after-ms`."""
    ms = max(1, math.ceil(seconds * 1000))
    return {"Retry-After": str(max(1, math.ceil(ms / 1000))), "x-ms-retry-after-ms": str(ms)}
