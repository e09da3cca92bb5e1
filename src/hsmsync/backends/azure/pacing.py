"""Client-side pacing: hsmsync should never be the reason for a 429.

Managed HSM allows about 5 RBAC operations (role assignments and role definitions together) per
second per HSM. Every HTTP attempt to an HSM's RBAC endpoints first takes a token from that HSM's
bucket, so discovery and apply, and every thread of both, share one budget per HSM. ARM calls take
from one bucket of their own. A 429 that still comes (another client spends the same budget)
pushes the whole bucket back by its Retry-After, so the other threads wait too.

`PacingPolicy` sits in each SDK client's pipeline right after the retry policy (a per-retry
policy): it paces each attempt, retries included, and logs each call at INFO on the
`hsmsync.api` logger — method, URL without query secrets, status, time; never a header.
`JitteredRetryPolicy` adds random jitter to azure-core's exponential backoff for 5xx and dropped
connections (Retry-After, when the service sends one, still wins).
`DeadlinePolicy` (per call, outside the retries) turns a call that ran out of time into
`NoAnswerError`, which names the host and the deadline.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import ServiceRequestTimeoutError, ServiceResponseTimeoutError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy, RetryPolicy

from hsmsync.backends.azure.settings import TimeoutSettings

API_LOG = logging.getLogger("hsmsync.api")
DEFAULT_HSM_RATE = 5.0  # the service's documented RBAC limit per HSM
DEFAULT_ARM_RATE = 10.0  # ARM's write refill rate per principal and region (reads allow more)
_RBAC_PATH = "/providers/microsoft.authorization/"
ARM_BUCKET = "arm"  # the key of ARM's bucket; HSM buckets are keyed by host


class TokenBucket:
    """`rate` tokens per second, evenly spaced (burst `burst`), thread-safe; `acquire` blocks.

    After the burst, calls are `1/rate` apart: the service's own bucket (which allows a burst of
    about one second) keeps slack for network jitter, so paced calls that arrive bunched up are
    not throttled.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._interval = 1.0 / rate
        self._lag = (max(1.0, burst) - 1.0) * self._interval  # how far behind `now` the schedule may lag
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = clock() - self._lag  # the earliest time the next token may be taken
        self.waited = 0.0  # total seconds callers spent waiting (for the benchmark and tests)

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(self._next, now - self._lag)
            self._next = slot + self._interval
            wait = max(0.0, slot - now)
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold(self, seconds: float) -> None:
        """The service said 'retry after `seconds`': nobody takes a token before then."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


class Pacer:
    """One bucket per HSM host (data plane) and one for ARM; created on first use."""

    def __init__(self, hsm_rate: float = DEFAULT_HSM_RATE, arm_rate: float = DEFAULT_ARM_RATE) -> None:
        self.hsm_rate = hsm_rate
        self.arm_rate = arm_rate
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self.throttled: dict[str, int] = {}  # 429s per bucket key: someone else spends the budget

    def record_throttle(self, key: str) -> None:
        with self._lock:
            self.throttled[key] = self.throttled.get(key, 0) + 1

    def bucket(self, key: str, rate: float) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                # No burst: calls evenly spaced leave the service's whole burst allowance as slack
                # for calls that arrive bunched up (network jitter, a busy client).
                bucket = self._buckets[key] = TokenBucket(rate)
            return bucket

    def policy(self, *, arm: bool) -> PacingPolicy:
        return PacingPolicy(self, arm=arm)


def _retry_after_seconds(headers: Any) -> float | None:
    for name, scale in (("x-ms-retry-after-ms", 0.001), ("retry-after-ms", 0.001), ("Retry-After", 1.0)):
        raw = headers.get(name)
        if raw:
            try:
                return float(raw) * scale
            except ValueError:
                continue
    return None


class PacingPolicy(HTTPPolicy[Any, Any]):
    """Per-attempt pacing and call logging (see the module docstring)."""

    def __init__(self, pacer: Pacer, *, arm: bool) -> None:
        super().__init__()
        self._pacer = pacer
        self._arm = arm

    def _bucket_key(self, url: str) -> str | None:
        if self._arm:
            return ARM_BUCKET
        parts = urlsplit(url)
        if _RBAC_PATH not in parts.path.lower():
            return None  # key listing: not an RBAC operation
        return parts.netloc.lower()

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        http = request.http_request
        key = self._bucket_key(http.url)
        rate = self._pacer.arm_rate if self._arm else self._pacer.hsm_rate
        bucket = self._pacer.bucket(key, rate) if key is not None else None
        waited = bucket.acquire() if bucket is not None else 0.0
        parts = urlsplit(http.url)
        where = f"{parts.scheme}://{parts.netloc}{parts.path}"
        started = time.monotonic()
        try:
            response = self.next.send(request)
        except Exception as exc:
            failed = type(exc).__name__
            fields = {"method": http.method, "url": where, "status": failed, "ms": round(_ms(started), 1)}
            API_LOG.info("%s %s -> %s (%.0f ms)", http.method, where, failed, _ms(started), extra=fields)
            raise
        status = response.http_response.status_code
        if API_LOG.isEnabledFor(logging.INFO):  # (-v): not worth building the record otherwise
            request_id = response.http_response.headers.get("x-ms-request-id")
            API_LOG.info(
                "%s %s -> %s (%.0f ms%s)",
                http.method,
                where,
                status,
                _ms(started),
                f", paced {waited * 1000:.0f} ms" if waited > 0.0005 else "",
                extra={"method": http.method, "url": where, "status": status, "ms": round(_ms(started), 1)}
                | ({"request_id": request_id} if request_id else {}),
            )
        if status == 429 and key is not None and bucket is not None:
            self._pacer.record_throttle(key)
            after = _retry_after_seconds(response.http_response.headers)
            bucket.hold(after if after is not None else 1.0 / bucket.rate)
        return response


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0


class JitteredRetryPolicy(RetryPolicy[Any, Any]):
    """azure-core's exponential backoff with full jitter, so parallel workers do not retry in step."""

    def __init__(self, *, rng: random.Random | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rng = rng or random.Random()

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        attempts = len(settings["history"])
        ceiling = min(settings["max_backoff"], settings["backoff"] * (2 ** max(attempts - 1, 0)))
        return float(self._rng.uniform(ceiling / 2, ceiling))


class NoAnswerError(ServiceResponseTimeoutError):
    """A call ran out of time: its message names the host and the deadline it missed."""


class DeadlinePolicy(HTTPPolicy[Any, Any]):
    """Outside the retries: a call that timed out (after its retries) names host and deadline."""

    def __init__(self, timeouts: TimeoutSettings) -> None:
        super().__init__()
        self._timeouts = timeouts

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        try:
            return self.next.send(request)
        except (ServiceRequestTimeoutError, ServiceResponseTimeoutError) as exc:
            if isinstance(exc, NoAnswerError):
                raise
            raise NoAnswerError(no_answer(request.http_request.url, exc, self._timeouts)) from exc


def no_answer(url: str, exc: Exception, timeouts: TimeoutSettings) -> str:
    """'no answer from https://host:port within 30 s' for a timed-out call to `url`."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    message = getattr(exc, "message", "")
    if message in ("Request timeout", "Response timeout"):  # azure-core: the retries' total ran out
        return f"no successful answer from {origin} within {timeouts.total:g} s (retries included)"
    if isinstance(exc, ServiceRequestTimeoutError):
        return f"no answer from {origin} within {timeouts.connect:g} s (connecting)"
    return f"no answer from {origin} within {timeouts.read:g} s"
