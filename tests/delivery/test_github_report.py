"""The sticky-comment logic through an injected transport: cap, author check, pagination, redaction."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "action"))
import github_report  # noqa: E402
from github_api import GitHub, GitHubError, HttpRequest, HttpResponse  # noqa: E402

TOKEN = "ghs_injectedTransportToken987"


class FakeTransport:
    """Answers like GitHub from a canned list of comments; records what was sent."""

    def __init__(self, comments: list[dict[str, Any]], page_size: int = 2) -> None:
        self.comments = comments
        self.page_size = page_size
        self.sent: list[HttpRequest] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        if request.method == "GET":
            page = int(parse_qs(urlsplit(request.url).query).get("page", ["1"])[0])
            chunk = self.comments[(page - 1) * self.page_size : page * self.page_size]
            headers = {}
            if page * self.page_size < len(self.comments):
                headers["link"] = f'<https://api.test/next?per_page=100&page={page + 1}>; rel="next"'
            return HttpResponse(200, json.dumps(chunk).encode(), headers)
        body = json.loads(request.body or b"{}")
        return HttpResponse(200, json.dumps({"id": 99, "html_url": "u", **body}).encode())


def _gh(transport: FakeTransport) -> GitHub:
    return GitHub("https://api.test", "o/r", TOKEN, transport)


def _comment(i: int, login: str, body: str) -> dict[str, Any]:
    return {"id": i, "user": {"login": login}, "body": body}


def test_marker_found_on_a_later_page_is_updated_not_duplicated():
    mark = github_report.marker("plan", "teams/a.yaml")
    comments = [_comment(i, "someone", "hi") for i in range(5)] + [
        _comment(50, "github-actions[bot]", mark + "\nold")
    ]
    transport = FakeTransport(comments)
    posted = github_report.upsert_comment(_gh(transport), 3, mark, mark + "\nnew", "github-actions[bot]")
    assert posted.action == "updated"
    assert [r.method for r in transport.sent] == ["GET", "GET", "GET", "PATCH"]
    assert transport.sent[-1].url.endswith("/repos/o/r/issues/comments/50")


@pytest.mark.parametrize(
    "decoy",
    [
        _comment(1, "mallory", "<!-- hsmsync-plan:hsmsync.yaml -->\nplease approve"),  # someone else's
        _comment(2, "github-actions[bot]", "> <!-- hsmsync-plan:hsmsync.yaml -->\nquoted"),  # not first line
        _comment(3, "github-actions[bot]", "<!-- hsmsync-plan:other.yaml -->\nanother manifest"),
    ],
)
def test_decoys_are_never_taken_over(decoy: dict[str, Any]):
    mark = github_report.marker("plan", "hsmsync.yaml")
    transport = FakeTransport([decoy])
    posted = github_report.upsert_comment(_gh(transport), 3, mark, mark + "\nplan", "github-actions[bot]")
    assert posted.action == "created"
    assert transport.sent[-1].method == "POST" and transport.sent[-1].url.endswith("/issues/3/comments")


def test_unchanged_body_is_not_rewritten():
    mark = github_report.marker("plan", "hsmsync.yaml")
    transport = FakeTransport([_comment(8, "github-actions[bot]", mark + "\nsame")])
    posted = github_report.upsert_comment(_gh(transport), 3, mark, mark + "\nsame", "github-actions[bot]")
    assert posted.action == "unchanged" and [r.method for r in transport.sent] == ["GET"]


def test_marker_key_cannot_close_the_html_comment():
    mark = github_report.marker("plan", "evil --> <script>.yaml")
    assert mark.count("-->") == 1 and mark.endswith(" -->") and "<script>" not in mark


def test_body_is_capped_below_githubs_limit_with_a_note_and_closed_fences():
    mark = github_report.marker("plan", "hsmsync.yaml")
    text = "```\n" + "".join(f"| change {i} | {'x' * 80} |\n" for i in range(5000))
    body = github_report.cap_body(mark, text, "https://github.example/run/1")
    assert len(body) <= github_report.MAX_BODY < 65_536
    assert body.startswith(mark + "\n```\n| change 0 |")
    assert body.count("```") % 2 == 0
    assert "more characters of this report are not shown" in body
    assert "https://github.example/run/1" in body
    short = github_report.cap_body(mark, "small", "u")
    assert short == mark + "\nsmall"


def test_api_errors_never_show_the_token(tmp_path: Path):
    def echoing(request: HttpRequest) -> HttpResponse:
        message = f"denied for {request.headers['Authorization']}"
        return HttpResponse(403, json.dumps({"message": message}).encode())

    with pytest.raises(GitHubError) as caught:
        _gh(echoing).call("GET", "/repos/o/r/issues/1/comments")  # type: ignore[arg-type]
    assert TOKEN not in str(caught.value) and "***" in str(caught.value)
    assert "403" in str(caught.value) and "pull-requests: write" in str(caught.value)

    body = tmp_path / "plan.md"
    body.write_text("plan")
    out, err = io.StringIO(), io.StringIO()
    environ = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": "https://api.test"}
    with redirect_stdout(out), redirect_stderr(err):
        code = github_report.run(
            ["comment", "--body-file", str(body), "--key", "m", "--pr", "1"], environ, echoing
        )
    assert code == 1
    assert TOKEN not in out.getvalue() + err.getvalue()
    assert err.getvalue().startswith(
        "::error::GitHub API GET /repos/o/r/issues/1/comments?per_page=100 answered 403"
    )


def test_no_pull_request_and_no_token_are_clear_errors(tmp_path: Path):
    body = tmp_path / "plan.md"
    body.write_text("plan")
    err = io.StringIO()
    with redirect_stderr(err):
        no_pr = github_report.run(
            ["comment", "--body-file", str(body), "--key", "m"],
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r"},
        )
        no_token = github_report.run(
            ["comment", "--body-file", str(body), "--key", "m", "--pr", "1"], {"GITHUB_REPOSITORY": "o/r"}
        )
    assert (no_pr, no_token) == (1, 1)
    assert "not a pull request event" in err.getvalue()
    assert "no GitHub token" in err.getvalue()
