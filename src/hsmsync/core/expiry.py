"""Time-bound grants: an assignment with `expires` is desired until then, and not after.

Pure: the time is passed in (`as_of(desired, now)`); the CLI passes the clock, tests pass fixed
times. An assignment is expired *at* its expiry time (`expires <= now`): `expires` names the first
instant it is no longer granted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hsmsync.core.desired import DesiredAssignment, DesiredState


def is_expired(a: DesiredAssignment, now: datetime) -> bool:
    return a.expires is not None and a.expires <= now


def as_of(desired: DesiredState, now: datetime) -> DesiredState:
    """`desired` at `now` (aware): expired assignments move to `expired`, so the planner deletes
    them where they exist (whatever `prune` says) and never creates them."""
    when = now.astimezone(UTC)
    kept = tuple(a for a in desired.assignments if not is_expired(a, when))
    if len(kept) == len(desired.assignments):
        return desired
    gone = tuple(a for a in desired.assignments if is_expired(a, when))
    return replace(desired, assignments=kept, expired=(*desired.expired, *gone))


def expiry_text(when: datetime) -> str:
    """`2026-12-31T18:00:00Z`: UTC, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["as_of", "expiry_text", "is_expired"]
