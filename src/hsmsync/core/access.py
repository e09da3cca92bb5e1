"""Effective access: the one import for grants, who-can, explain and access deltas.

The pieces live in small modules (grants, action_names, whocan, explain, access_delta); this
module is the stable surface the CLI, renderers and lint use.
"""

from __future__ import annotations

from hsmsync.core.access_delta import (
    AccessDelta,
    AccessGroup,
    CapabilityChange,
    access_delta,
    plan_access_delta,
    state_after_plan,
)
from hsmsync.core.action_names import resolve_action
from hsmsync.core.capabilities import Capability
from hsmsync.core.explain import ExplainedGrant, Explanation, explain, summarize_actions
from hsmsync.core.grants import Grant, effective_data_actions, grants_from_desired, grants_from_live
from hsmsync.core.whocan import AccessPath, who_can

__all__ = [
    "AccessDelta",
    "AccessGroup",
    "AccessPath",
    "Capability",
    "CapabilityChange",
    "ExplainedGrant",
    "Explanation",
    "Grant",
    "access_delta",
    "effective_data_actions",
    "explain",
    "grants_from_desired",
    "grants_from_live",
    "plan_access_delta",
    "resolve_action",
    "state_after_plan",
    "summarize_actions",
    "who_can",
]
