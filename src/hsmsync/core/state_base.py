"""The base of every live-state model: frozen (state is data, never edited in place) and strict
(a state file's unknown field is an error, not a silently dropped line)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
