"""Reading a manifest builds its data from the parser's events as they come, never the whole
composed node tree first: libyaml's nodes and marks take more than twice the memory of the data
(50 HSMs x 200 keys: a 143 MB tree for a 3 MB manifest, most of hsmsync's peak memory)."""

from __future__ import annotations

import tracemalloc

from hsmsync.manifest_yaml import Positions, parse_yaml
from tests.reliability.fleet import Fleet


def test_reading_a_manifest_peaks_near_the_size_of_its_data() -> None:
    text = Fleet(hsms=3, keys=20, keyed=20, per_key=5).manifest()  # about 1,000 lines
    parse_yaml(text, "hsmsync.yaml", Positions(), [])  # warm (caches other tests may have filled)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        positions = Positions()
        data = parse_yaml(text, "hsmsync.yaml", positions, [])
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data["version"] == 1 and len(data["hsms"]) == 3 and positions.lines
    # The data and its positions, against the most held while reading: composing the node tree
    # first peaked at more than twice what is kept.
    assert peak - before < 1.5 * (held - before)
