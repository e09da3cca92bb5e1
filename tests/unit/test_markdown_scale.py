"""The markdown plan holds at any size (issue 12): never over its budget, counts and what needs a
reviewer's eye first, details until the budget, then what was left out and where the full plan is.

The cap is built in, not cut off: every line of a capped comment is a whole line of the uncapped
one (no half escape, no half tag), `<details>` blocks stay balanced and tables keep their shape,
also with hostile names. Golden: tests/golden/capped.plan.md (UPDATE_GOLDEN=1 pytest).
"""

from __future__ import annotations

import re

import pytest

from hsmsync.core.access_delta import AccessDelta, CapabilityChange
from hsmsync.core.capabilities import Capability
from hsmsync.core.lint import LintReport
from hsmsync.core.lint_findings import Finding, Severity
from hsmsync.core.plan import Action, Change, Kind, Plan, Plane, UnmanagedItem
from hsmsync.core.review import PlanReview
from hsmsync.core.target import Target
from hsmsync.render.markdown import MAX_CHARS, render_plan
from tests.changes import flat_change
from tests.cli.test_golden import _check
from tests.cli.test_hostile_outputs import markdown_structure

HOSTILE = "Rotator </details> **APPROVED** [ok](https://evil.example) `x` | y\n\n<!-- @org/admins \x1b[2J\u200b &amp; \\"
HSMS = [f"hsm{i:02d}" for i in range(12)]


def _change(i: int, hsm: str) -> Change:
    hostile = i % 7 == 0
    return flat_change(
        id=f"data:{hsm}:role_assignment:{i}",
        action=Action.CREATE if i % 3 else Action.DELETE,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=Plane.DATA,
        target=Target.hsm(hsm),
        scope=f"/keys/key-{i}" + ("\n<!--" if hostile else ""),
        name=f"{i:08x}-0000-4000-8000-000000000000",
        role=HOSTILE if hostile else "Managed HSM Crypto User",
        role_id="21dbd100-6940-42c2-9190-5d6cb909625b",
        reason="declared by team app" + (" | </details>" if hostile else ""),
        principal=f"app-{i % 50}" + (" @org/admins" if hostile else ""),
        principal_id=f"{i:08x}-1111-4000-8000-000000000000",
        risks=("can use keys (sign)",) if i % 5 == 0 else (),
    )


def big_review(per_hsm: int = 400) -> PlanReview:
    changes = tuple(_change(n * per_hsm + i, hsm) for n, hsm in enumerate(HSMS) for i in range(per_hsm))
    unmanaged = tuple(
        UnmanagedItem(
            Plane.DATA,
            Target.hsm(hsm),
            "/",
            f"u{i}",
            HOSTILE,
            "r",
            f"{i:08x}-2222-4000-8000-000000000000",
            None,
            "kept",
        )
        for i, hsm in enumerate(HSMS * 10)
    )
    plan = Plan(changes, unmanaged, warnings=(f"{HOSTILE} warning",), refusals=())
    access = AccessDelta(
        tuple(
            CapabilityChange(
                hsm,
                f"/keys/key-{i}",
                Capability.USE_KEYS,
                frozenset({"keys/sign/action"}),
                (f"app-{i}", HOSTILE),
                (),
            )
            for hsm in HSMS
            for i in range(60)
        )
    )
    findings = tuple(
        Finding(
            "HSM003", Severity.WARNING, f"app-{i}", f"{HOSTILE} holds a key-use role at /", "assign per key"
        )
        for i in range(80)
    )
    return PlanReview(plan, access=access, lint=LintReport(findings))


def _balanced(text: str, links: int = 0) -> None:
    structure = markdown_structure(text)
    assert structure["html_block:<details []>"] == structure["html_block:</details>"]
    assert text.count("<details>") == text.count("</details>")  # also counting our own raw lines
    assert structure["inline:html_inline:<!--"] == 0
    assert structure["inline:link_open:"] == links  # only the full plan's, when given
    for line in text.splitlines():
        if line.startswith("|"):  # every table row has its table's columns: no '|' from a name
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) - 2 in (4, 5, 6), line


def test_a_12_hsm_plan_of_4800_changes_fits_a_comment_and_matches_golden():
    review = big_review()
    full = render_plan(review, "12 HSMs", limit=10**9)
    assert len(full) > 4 * MAX_CHARS  # the plan would not fit a comment whole
    text = render_plan(review, "12 HSMs", full_plan_url="https://ci.example/run/1")
    assert len(text) <= MAX_CHARS
    _check("capped.plan.md", text)
    _balanced(text, links=1)
    lines = text.splitlines()
    assert lines[4] == "**3200 to create, 0 to update, 1600 to delete; 120 unmanaged left alone.**"
    # the first things a reviewer reads, in order
    order = [lines.index(h) for h in lines if h.startswith("#### ")]
    assert [lines[i].split(" (")[0] for i in order] == [
        "#### :warning: High-risk changes",
        "#### Who can do what after this change",
        "#### Lint findings",
    ]
    assert "<details><summary>HSM hsm00 (data plane): 400 change(s)</summary>" in text
    closing = lines[-1]
    assert closing.startswith("**Not shown here** (a comment holds 60,000 characters at most): ")
    assert closing.endswith("The full plan: <https://ci.example/run/1>.")
    # the counts add up: shown + left out = all
    shown_rows = sum(1 for line in lines if line.startswith("| `"))
    left_out = _count(r"([\d,]+) changes? in the details", closing)
    assert shown_rows + left_out == 4800
    risky_shown = sum(1 for line in lines if line.startswith("- `"))
    risky_left = _count(r"([\d,]+) high-risk changes?", closing)
    assert risky_shown + risky_left == sum(1 for c in review.plan.changes if c.risks)


def test_every_capped_line_is_a_whole_line_of_the_full_plan():
    """Nothing is cut: a capped comment only leaves out whole items (plus its own 'more' lines)."""
    review = big_review(60)
    full_lines = set(render_plan(review, "h", limit=10**9).splitlines())
    for limit in (2_000, 7_777, 20_000, 33_333, MAX_CHARS):
        text = render_plan(review, "h", limit=limit)
        assert len(text) <= limit
        _balanced(text)
        own = {
            line for line in text.splitlines() if "more (see the full plan)" in line or "Not shown" in line
        }
        assert set(text.splitlines()) - own - {"---"} <= full_lines


@pytest.mark.parametrize("per_hsm", [0, 1, 3])
def test_small_plans_are_shown_whole_without_a_note(per_hsm: int):
    review = PlanReview(Plan(tuple(_change(i, "hsm00") for i in range(per_hsm))))
    text = render_plan(review, "h")
    assert "Not shown" not in text and "more (see the full plan)" not in text
    assert text.count("| `") == per_hsm


def test_the_closing_note_links_a_plain_url_only_and_a_long_header_cannot_eat_the_budget():
    review = big_review(40)
    hostile_url = "https://ci.example/run 1><script>alert(1)</script>"
    text = render_plan(review, "x" * 200_000, full_plan_url=hostile_url)
    assert len(text) <= MAX_CHARS
    assert "Against: (a description too long to show)" in text
    closing = text.splitlines()[-1]
    assert "<script>" not in closing and "&lt;script&gt;" in closing  # shown as text, not a link
    assert markdown_structure(text)["inline:link_open:"] == 0


def _count(pattern: str, text: str) -> int:
    """The number (with thousands separators) the pattern's group captures in `text`."""
    found = re.search(pattern, text)
    assert found is not None, pattern
    return int(found.group(1).replace(",", ""))
