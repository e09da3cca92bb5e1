"""The `key=value,...` option strings of the emulator (`--faults`, `--replica`)."""

from __future__ import annotations

from collections.abc import Iterator


def spec_items(spec: str, what: str) -> Iterator[tuple[str, str, str]]:
    """(item, key lower-cased, value) of each comma-separated item; ValueError naming the item."""
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise ValueError(f"{what} '{item}': expected key=value")
        yield item, key.strip().lower(), value
