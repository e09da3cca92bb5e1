"""The plan as JSON (see render/contract.py): the plan's changes and summary, the access delta
(grouped principal x ability x places) and the lint findings as objects; stable for diffing."""

from __future__ import annotations

from hsmsync.core.review import PlanReview
from hsmsync.render.contract import document
from hsmsync.render.lint_json import finding_dict, lint_summary


def render_plan(review: PlanReview, header: str = "") -> str:
    findings = review.lint_findings()
    suppressed = len(review.lint.suppressed) if review.lint is not None else 0
    body = {
        **review.plan.to_dict(),
        "backend": header,
        "access_delta": [g.to_dict() for g in review.access_groups()],
        "lint": {
            "summary": lint_summary(findings, suppressed),
            "findings": [finding_dict(f) for f in findings],
        },
    }
    return document("plan", body)
