"""Set what exists now aside from the cyclic garbage collector while a long network phase runs.

Discovery and apply allocate steadily (pages, requests, responses), so the collector runs its full
passes again and again, and each one walks every object the process holds: the manifest, the
desired and live state, the plan. Those outlive the phase anyway, so walking them finds nothing;
`gc.freeze()` moves them out of the collector's sight until the phase ends. What the phase itself
allocates is collected as usual, so memory stays bounded; what was set aside and became cyclic
garbage meanwhile is collected after (reference counting frees the rest at once, as always).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # phases under way: the collector sees everything again when the last one ends


@contextmanager
def set_aside_from_gc() -> Iterator[None]:
    global _depth
    with _lock:
        _depth += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
