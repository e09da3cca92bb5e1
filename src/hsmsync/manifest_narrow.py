"""`--target` for a manifest directory: its files are read whole (to merge them), then narrowed
as a single file is narrowed while it is read (manifest_yaml.parse_yaml)."""

from __future__ import annotations

from typing import Any

from hsmsync.manifest_yaml import Positions


def narrow_data(data: Any, pos: Positions, hsms: frozenset[str]) -> Any:
    """Data read in full (a directory's merged files) narrowed as parse_yaml narrows while reading:
    a team's `data` entry on a declared HSM not in `hsms` is dropped (Positions.data_read)."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("hsms"), dict)
        or not isinstance(data.get("teams"), dict)
    ):
        return data
    elsewhere = set(data["hsms"]) - hsms
    teams = {}
    for key, team in data["teams"].items():
        entries = team.get("data") if isinstance(team, dict) else None
        if isinstance(entries, list):
            read = [i for i, e in enumerate(entries) if not _entry_elsewhere(e, elsewhere)]
            pos.data_read[str(key)] = read
            team = {**team, "data": [entries[i] for i in read]}
        teams[key] = team
    return {**data, "teams": teams}


def _entry_elsewhere(entry: Any, elsewhere: set[str]) -> bool:
    """A flat team `data` entry whose `hsm` is a string naming one of `elsewhere`."""
    if not isinstance(entry, dict) or any(isinstance(v, dict | list) for v in entry.values()):
        return False
    return isinstance(entry.get("hsm"), str) and entry["hsm"] in elsewhere
