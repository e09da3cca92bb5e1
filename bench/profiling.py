"""cProfile for every thread of a process (the fleet benchmark's `--profile`), in CPU time.

cProfile follows only the thread it is enabled in; here every thread started after
`profile_threads()` gets its own profile, timed with the thread's CPU clock (a wall clock would
charge a thread for the time it waited for a core on a loaded machine), merged on `dump`.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
import time
from pathlib import Path

_PROFILES: list[cProfile.Profile] = []


def profile_threads() -> cProfile.Profile:
    """Profile every thread started from now on; returns a profile for the calling thread
    (enable and disable it around what to measure)."""
    run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        _PROFILES.append(profile)
        profile.runcall(run, self)

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main = cProfile.Profile(time.thread_time)
    _PROFILES.append(main)
    return main


def restart() -> cProfile.Profile:
    """Forget the profiles so far (after `dump`); a new profile for the calling thread, and every
    thread started from now on gets its own again."""
    _PROFILES.clear()
    main = cProfile.Profile(time.thread_time)
    _PROFILES.append(main)
    return main


def dump(path: Path) -> None:
    """Write the merged profile of every thread (those still running: so far)."""
    stats = None
    for profile in list(_PROFILES):
        profile.create_stats()
        if profile.stats:  # type: ignore[attr-defined]  # (a thread that ran nothing has none)
            stats = pstats.Stats(profile) if stats is None else stats.add(profile)
    if stats is not None:
        stats.dump_stats(str(path))
