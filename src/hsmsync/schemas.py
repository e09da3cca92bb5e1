"""JSON Schemas generated from the models (checked in under schemas/, a test keeps them current)."""

from __future__ import annotations

from typing import Any

from hsmsync.core.model import Manifest
from hsmsync.core.state import LiveState


def manifest_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema()
    schema["$id"] = "https://hsmsync.dev/schemas/hsmsync.schema.json"
    return schema


def state_schema() -> dict[str, Any]:
    schema = LiveState.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hsmsync state file"
    return schema
