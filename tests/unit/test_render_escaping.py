"""For any strings in names, scopes, reasons and messages, the Markdown, HTML, text and drift
renderings keep exactly the structure they have with plain names (issue 9, item 11)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsmsync.core.access_delta import AccessDelta, CapabilityChange
from hsmsync.core.capabilities import Capability
from hsmsync.core.drift import DriftReport, FailOn
from hsmsync.core.plan import Action, FieldChange, Kind, Plan, Plane, UnmanagedItem
from hsmsync.core.results import ApplyResult, ChangeResult, ChangeStatus
from hsmsync.core.review import PlanReview
from hsmsync.core.target import ARM, Target
from hsmsync.render import drift, html, markdown, text
from hsmsync.render.escape import md, md_html, visible
from hsmsync.render.results import render_apply_result
from tests.changes import flat_change
from tests.cli.test_hostile_outputs import html_structure, markdown_structure

PIECES = [
    "\n",
    "\n\n",
    "\r",
    "<!--",
    "-->",
    "</details>",
    "<details>",
    "<summary>",
    "**",
    "__",
    "*",
    "_",
    "`",
    "``",
    "```",
    "~~~",
    "|",
    "[x](https://e.example)",
    "![i](x)",
    "@org/admins",
    "@alice",
    "<script>alert(1)</script>",
    "<b>",
    "&amp;",
    "&",
    "\\",
    "# ",
    "- ",
    "1. ",
    "> ",
    "---",
    "===",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\x1b[31m",
    "\x00",
    "\u2028",
    "$x$",
    ":warning:",
    '"',
    "'",
    "<",
    ">",
    " ",
    "\t",
    "contoso",
]
hostile_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(PIECES), max_size=8).map("".join),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=8).map("".join),
)


def _plan(words: list[str]) -> PlanReview:
    """A plan with one of each kind of row; `words` fill every untrusted field."""
    w = iter(words)
    # Targets decide the sections; distinct prefixes keep their number that of the plain plan.
    changes = (
        flat_change(
            "1",
            Action.CREATE,
            Kind.ROLE_ASSIGNMENT,
            Plane.DATA,
            Target.hsm("a" + next(w)),
            next(w),
            "n",
            next(w),
            "r",
            next(w),
            principal=next(w),
            principal_id="p",
            principal_type="Group",
            risks=("r" + next(w),),
        ),
        flat_change(
            "2",
            Action.DELETE,
            Kind.ROLE_DEFINITION,
            Plane.DATA,
            Target.hsm("b" + next(w)),
            "/",
            "n",
            next(w),
            "r",
            next(w),
            added_data_actions=(next(w),),
            removed_data_actions=(next(w),),
        ),
        flat_change(
            "3",
            Action.UPDATE,
            Kind.SETTING,
            Plane.MANAGEMENT,
            Target.hsm(next(w)),
            next(w),
            "n",
            next(w),
            "r",
            next(w),
            field_changes=(FieldChange(next(w), next(w), next(w)),),
        ),
        flat_change(
            "4",
            Action.CREATE,
            Kind.ROLE_ASSIGNMENT,
            Plane.MANAGEMENT,
            ARM,
            next(w),
            "n",
            next(w),
            "r",
            next(w),
            principal=None,
            principal_id=next(w),
            risks=("r" + next(w),),
        ),
    )
    unmanaged = (
        UnmanagedItem(Plane.DATA, Target.hsm(next(w)), next(w), "n", next(w), "r", next(w), None, next(w)),
    )
    plan = Plan(changes, unmanaged, warnings=("w" + next(w),), refusals=("r" + next(w),), notes=(next(w),))
    # access sentences embed HSM names, scopes and principal names too
    gain = CapabilityChange(
        "h" + next(w),
        "/keys/" + next(w),
        Capability.USE_KEYS,
        frozenset({"keys/wrap/action"}),
        (next(w),),
        (next(w),),
    )
    return PlanReview(plan, access=AccessDelta((gain,)))


FIELDS = 35


def _plain(n: int) -> list[str]:
    return [f"w{i}" for i in range(n)]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(hostile_text, min_size=FIELDS, max_size=FIELDS), hostile_text.map(lambda t: "h" + t))
def test_markdown_structure_does_not_depend_on_the_names(words: list[str], header: str):
    hostile = markdown.render_plan(_plan(words), header)
    plain = markdown.render_plan(_plan(_plain(FIELDS)), "header")
    assert markdown_structure(hostile) == markdown_structure(plain)
    assert not re.search(r"@[A-Za-z0-9]", hostile)  # an '@' is always followed by a zero-width joiner


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(hostile_text, min_size=FIELDS, max_size=FIELDS), hostile_text.map(lambda t: "h" + t))
def test_html_structure_does_not_depend_on_the_names(words: list[str], header: str):
    hostile = html.render_plan(_plan(words), header)
    plain = html.render_plan(_plan(_plain(FIELDS)), "header")
    assert html_structure(hostile) == html_structure(plain)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(hostile_text, min_size=FIELDS, max_size=FIELDS), hostile_text.map(lambda t: "h" + t))
def test_text_and_drift_keep_one_line_per_item(words: list[str], header: str):
    review, plain = _plan(words), _plan(_plain(FIELDS))
    assert len(text.render_plan(review, header).splitlines()) == len(
        text.render_plan(plain, "h").splitlines()
    )
    report, plain_report = DriftReport(review.plan, FailOn.DRIFT), DriftReport(plain.plan, FailOn.DRIFT)
    assert Counter(markdown_structure(drift.render_markdown(report, header))) == Counter(
        markdown_structure(drift.render_markdown(plain_report, "h"))
    )
    assert len(drift.render_text(report, header).splitlines()) == len(
        drift.render_text(plain_report, "h").splitlines()
    )


def test_visible_shows_what_would_be_invisible_and_keeps_the_rest():
    assert visible("a\nb\u202ec\x1b[0m\u200bé日本") == "a\\nb\\u202ec\\u001b[0m\\u200bé日本"


def test_md_and_md_html_neutralise_autolinks():
    # Finding 15: GitHub links bare `https://...` and `www....` in text, escaped or not.
    text = "see https://evil.example/x, HTTP://a.b and www.evil.example or WWW.x.y"
    for escape in (md, md_html):
        shown = escape(text)
        assert "://" not in shown and "www.e" not in shown and "WWW.x" not in shown
        assert "https:\u200d//evil.example/x" in shown and "www.\u200devil.example" in shown
        assert shown.replace("\u200d", "") == text  # only a zero-width joiner added: it reads the same


def test_md_neutralises_markup_and_mentions():
    assert md("@org/admins </details> **x** [a](b) `c` | d") == (
        "@\u200dorg/admins &lt;/details&gt; \\*\\*x\\*\\* \\[a\\](b) \\`c\\` \\| d"
    )
    assert md("- item", starts_block=True) == "\\- item" and md("12. x", starts_block=True) == "12\\. x"


@settings(max_examples=100, deadline=None)
@given(st.lists(hostile_text, min_size=FIELDS, max_size=FIELDS), hostile_text)
def test_apply_results_keep_one_line_per_change_whatever_the_service_says(words: list[str], message: str):
    """A service's error message is untrusted too: it cannot add or fake result lines."""
    change = _plan(words).plan.changes[0]
    failed = ApplyResult((ChangeResult(change, ChangeStatus.FAILED, "e" + message),))
    plain = ApplyResult((ChangeResult(_plan(_plain(FIELDS)).plan.changes[0], ChangeStatus.FAILED, "e"),))
    assert len(render_apply_result(failed).splitlines()) == len(render_apply_result(plain).splitlines())
    assert "\x1b" not in render_apply_result(failed)
