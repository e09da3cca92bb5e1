"""Time-bound grants: an assignment with `expires` is desired until then, and not after; a PIM
for Groups schedule (eligible or active) counts from its start until its end, and not outside.

Pure: the time is passed in (`as_of(desired, now)`); the CLI passes the clock, tests pass fixed
times. An assignment is expired *at* its expiry time (`expires <= now`): `expires` names the first
instant it is no longer granted; a schedule's `end` likewise.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hsmsync.core.desired import DesiredAssignment, DesiredState
from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import DirectoryObject, PimMembership


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


def _utc(when: datetime) -> datetime:
    """A time without a zone (a hand-written state file) is read as UTC, as Graph writes them."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def in_force(p: PimMembership, now: datetime) -> bool:
    """Is the schedule in force at `now`: started (or no start) and not yet ended (`end > now`)?"""
    started = p.start is None or _utc(p.start) <= now
    return started and (p.end is None or _utc(p.end) > now)


def live_as_of(live: LiveState, now: datetime) -> LiveState:
    """`live` at `now` (aware): PIM memberships whose schedule has ended or not yet started are
    left out of its directory, so no answer about access (whocan, explain, keys, matrix, lint,
    the plan's access delta) counts them. The one clock is the caller's: `--at` or now."""
    if live.directory is None:
        return live
    when = now.astimezone(UTC)
    directory = tuple(_in_force_only(o, when) for o in live.directory)
    if all(a is b for a, b in zip(directory, live.directory, strict=True)):
        return live
    return live.model_copy(update={"directory": directory})


def _in_force_only(o: DirectoryObject, now: datetime) -> DirectoryObject:
    kept = tuple(p for p in o.pim if in_force(p, now))
    return o if len(kept) == len(o.pim) else o.model_copy(update={"pim": kept})


def expiry_text(when: datetime) -> str:
    """`2026-12-31T18:00:00Z`: UTC, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["as_of", "expiry_text", "in_force", "is_expired", "live_as_of"]
