"""The machine-readable contract of hsmsync's JSON outputs.

Every JSON document hsmsync prints starts with the same three fields: `format_version` (bumped
only when a field is removed or changes meaning; new fields may appear at any time),
`hsmsync_version` and `kind` (plan, drift, lint, validate, apply, whocan, explain). The JSON
Schemas of plan, drift and lint output (schemas/*.schema.json) are generated from
`output_schemas.py`; a test keeps them current and validates real outputs against them.
"""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from typing import Any

from hsmsync import __version__

FORMAT_VERSION = 1


def envelope(kind: str) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "hsmsync_version": __version__, "kind": kind}


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON: {type(value).__name__}")


def document(kind: str, body: dict[str, Any]) -> str:
    """`body` (dataclasses allowed) under the envelope, as sorted, indented JSON."""
    data = {**envelope(kind), **body}
    return json.dumps(_asdicts(data), indent=2, sort_keys=True, default=_plain) + "\n"


def _asdicts(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _asdicts(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _asdicts(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_asdicts(v) for v in value]
    return value
