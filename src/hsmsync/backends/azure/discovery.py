"""How the live backend reads one HSM's role assignments: every scope (FULL) or per principal
(PRINCIPALS), whichever the manifest requires or costs fewer list calls."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DiscoveryMode(StrEnum):
    FULL = "full discovery"
    PRINCIPALS = "principal discovery"


@dataclass(frozen=True, slots=True)
class Discovery:
    """How one HSM was read, for `describe()`."""

    hsm: str
    mode: DiscoveryMode
    principals: int
    keys: int | None  # None: not (completely) listed
    note: str = ""

    def describe(self) -> str:
        if self.mode is DiscoveryMode.FULL:
            detail = f"{self.keys} key{'' if self.keys == 1 else 's'}"
        else:
            detail = f"{self.principals} principal{'' if self.principals == 1 else 's'}"
            if self.keys is not None:
                detail += f", {self.keys} key{'' if self.keys == 1 else 's'}"
        if self.note:
            detail += f"; {self.note}"
        return f"{self.hsm}: {self.mode.value} ({detail})"


def choose_mode(*, full: bool, principals: int, keys_seen: int | None, keys_complete: bool) -> DiscoveryMode:
    """FULL when required; else whichever needs fewer list calls (PRINCIPALS: P, FULL: K + 2)."""
    if full:
        return DiscoveryMode.FULL
    if keys_seen is None or not keys_complete:
        return DiscoveryMode.PRINCIPALS
    return DiscoveryMode.PRINCIPALS if principals < keys_seen + 2 else DiscoveryMode.FULL
