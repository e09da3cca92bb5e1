"""The markdown plan stays readable at hundreds of changes: counts first, truncation with a count."""

from __future__ import annotations

from hsmsync.core.planner import plan_changes
from hsmsync.core.review import PlanReview
from hsmsync.render.markdown import render_plan

from .builders import ADMIN, manifest
from .builders import live as live_state


def test_600_changes_render_with_counts_and_truncation():
    principals = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(600)]
    from hsmsync.core.state import DataRoleAssignment

    stray = tuple(
        DataRoleAssignment(
            name=f"{i:08x}-1111-4000-8000-000000000000", scope="/", role_definition_id=ADMIN, principal_id=p
        )
        for i, p in enumerate(principals)
    )
    plan = plan_changes(manifest(), live_state(*stray))
    assert len(plan.changes) == 600
    text = render_plan(PlanReview(plan), "test")
    lines = text.splitlines()
    assert lines[4] == "**0 to create, 0 to update, 600 to delete.**"
    assert "#### :warning: High-risk changes (600)" in text
    assert "- … and 575 more (see the details below)" in text
    assert "| | … and 500 more | | | |" in text
    assert len(lines) < 200
