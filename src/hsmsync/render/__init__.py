"""Renderers: pure functions from plans and results to text. They compute nothing."""

from __future__ import annotations

from collections.abc import Callable

from hsmsync.core.review import PlanReview
from hsmsync.render import html, json_render, markdown, text

PLAN_RENDERERS: dict[str, Callable[[PlanReview, str], str]] = {
    "text": text.render_plan,
    "json": json_render.render_plan,
    "markdown": markdown.render_plan,
    "html": html.render_plan,
}


def render_review(fmt: str, review: PlanReview, header: str, *, full_plan_url: str = "") -> str:
    """The plan in `fmt`; the markdown comment names `full_plan_url` (where the whole plan is)."""
    if fmt == "markdown":
        return markdown.render_plan(review, header, full_plan_url=full_plan_url)
    return PLAN_RENDERERS[fmt](review, header)
