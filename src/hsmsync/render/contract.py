"""The machine-readable contract of hsmsync's JSON outputs.

Every JSON document hsmsync prints starts with the same three fields: `format_version` (bumped
only when a field is removed or changes meaning; new fields may appear at any time),
`hsmsync_version` and `kind` (plan, drift, lint, validate, apply, whocan, explain, keys,
migrate). The JSON Schemas of plan, drift and lint output (schemas/*.schema.json) are generated
from `output_schemas.py`; a test keeps them current and validates real outputs against them.
"""

from __future__ import annotations

import json
from typing import Any

from hsmsync import __version__

FORMAT_VERSION = 1


def envelope(kind: str) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "hsmsync_version": __version__, "kind": kind}


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _sorted(value: Any) -> Any:
    """Objects with their keys sorted, at every depth (stable text for diffing)."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    return value


def document(kind: str, body: dict[str, Any]) -> str:
    """`body` under the envelope, as indented JSON: the envelope's fields first (a reader sees the
    format first), then the body's, every object's keys sorted."""
    data = {**envelope(kind), **_sorted(body)}
    return json.dumps(data, indent=2, default=_plain) + "\n"
