"""The plan as JSON: `{"changes": [...], "summary": {...}}`; stable for diffing and golden tests."""

from __future__ import annotations

import json

from hsmsync.core.plan import Plan


def render_plan(plan: Plan, header: str = "") -> str:
    data = plan.to_dict()
    data["backend"] = header
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
