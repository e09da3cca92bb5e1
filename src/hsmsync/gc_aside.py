"""Set what exists now aside from the cyclic garbage collector while a long network phase runs.

Discovery and apply allocate steadily (pages, requests, responses), so the collector runs its full
passes again and again, and each one walks every object the process holds: the manifest, the
desired and live state, the plan. Those outlive the phase anyway, so walking them finds nothing;
`gc.freeze()` moves them out of the collector's sight until the phase ends. The same holds for
what the phase builds to keep (discovery's records): after each full collection of the phase its
survivors are set aside too, so the next one walks only what is newer, not the whole state read
so far again. Garbage is collected as usual (a full collection runs before its survivors are set
aside), so memory stays bounded; what was set aside and became cyclic garbage meanwhile is
collected after the phase (reference counting frees the rest at once, as always).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_depth = 0  # phases under way: the collector sees everything again when the last one ends


def _set_aside_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


@contextmanager
def set_aside_from_gc() -> Iterator[None]:
    global _depth
    with _lock:
        _depth += 1
        gc.freeze()
        if _depth == 1:
            gc.callbacks.append(_set_aside_survivors)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.callbacks.remove(_set_aside_survivors)
                gc.unfreeze()
