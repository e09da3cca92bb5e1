"""The plan as JSON: `{"changes": [...], "summary": {...}}`; stable for diffing and golden tests."""

from __future__ import annotations

import json

from hsmsync.core.review import PlanReview


def render_plan(review: PlanReview, header: str = "") -> str:
    data = review.plan.to_dict()
    data["backend"] = header
    data["access_delta"] = review.access_sentences()
    data["lint"] = review.lint_lines()
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
