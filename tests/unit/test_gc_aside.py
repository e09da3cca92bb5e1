"""Long network phases (discovery, apply) keep the cyclic collector off what they outlive and what
they have built so far (issue 16: a 50-HSM shard spent seconds of its discovery walking its own
growing state on every full collection), yet collect their garbage as usual."""

from __future__ import annotations

import gc
import weakref

from hsmsync.gc_aside import set_aside_from_gc


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_survivors_of_a_full_collection_in_the_phase_are_set_aside_and_garbage_is_collected() -> None:
    with set_aside_from_gc():
        before = gc.get_freeze_count()
        kept = [_Node() for _ in range(1000)]  # what the phase builds to keep (records)
        dropped = _Node()
        gone = weakref.ref(dropped)
        del dropped
        gc.collect()
        assert gone() is None  # garbage made in the phase is collected as usual
        assert gc.get_freeze_count() >= before + len(kept)  # the survivors: out of later passes
    assert gc.get_freeze_count() == 0  # everything back to the collector after the phase


def test_phases_may_overlap_and_the_last_to_end_gives_everything_back() -> None:
    with set_aside_from_gc():
        with set_aside_from_gc():
            gc.collect()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0 and all(cb.__name__ != "_set_aside_survivors" for cb in gc.callbacks)
