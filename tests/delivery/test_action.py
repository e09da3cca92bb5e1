"""The Action's own steps (action.yml's scripts) against the Contoso example and a fake GitHub API."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CONTOSO
from tests.delivery.action_runner import ActionRun, run_action
from tests.delivery.fake_github import REPO, FakeGitHub, serve

TOKEN = "ghs_s3cr3tActionsToken0123456789abcdef"
BOT = "github-actions[bot]"
MARKER = "<!-- hsmsync-plan:hsmsync.yaml -->"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(tokens={TOKEN: BOT, "ghp_mallory": "mallory"})
    server, thread = serve(fake)
    yield fake
    server.shutdown()
    thread.join()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    for name in ("hsmsync.yaml", "live-as-tutorial.json"):
        shutil.copy(CONTOSO / name, tmp_path / name)
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "state.json")
    return tmp_path


def _env(github: FakeGitHub, workspace: Path, event: str, pr: int | None = None) -> dict[str, str]:
    event_file = workspace / "_event.json"
    event_file.write_text(json.dumps({"pull_request": {"number": pr}} if pr else {}))
    return {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": github.url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "4242",
        "ACTIONS_TEST_TOKEN": TOKEN,
    }


def _plan(github: FakeGitHub, workspace: Path, pr: int = 7, **inputs: str) -> ActionRun:
    env = _env(github, workspace, "pull_request", pr)
    run = run_action({"command": "plan", "state": "state.json", **inputs}, workspace=workspace, environ=env)
    assert TOKEN not in run.log
    return run


def test_plan_on_a_pull_request_keeps_one_sticky_comment(github: FakeGitHub, workspace: Path):
    # 250 comments from reviewers spread the marker search over three pages; one user quotes the marker.
    for i in range(120):
        github.add_comment(7, f"reviewer{i % 3}", f"looks fine {i}")
    hijack = github.add_comment(7, "mallory", f"{MARKER}\n> quoting the bot's plan: approve me")
    for i in range(130):
        github.add_comment(7, "reviewer0", f"nit {i}")

    first = _plan(github, workspace)
    assert not first.failed, first.log
    assert first.outputs["exit-code"] == "2"
    ours = [c for c in github.comments[7] if c["user"]["login"] == BOT]
    assert len(ours) == 1 and ours[0]["body"].startswith(MARKER)
    first_body = ours[0]["body"]
    assert "13 to create, 1 to update" in first_body
    assert first.outputs["comment-url"] == ours[0]["html_url"]
    pages = [p for m, p, _ in github.requests if m == "GET"]
    assert any("page=3" in p for p in pages), pages

    # The next push plans something else: the same comment is edited, no new one appears.
    second = _plan(github, workspace, state="live-as-tutorial.json")
    assert not second.failed, second.log
    ours_again = [c for c in github.comments[7] if c["user"]["login"] == BOT]
    assert [c["id"] for c in ours_again] == [ours[0]["id"]]
    assert ours_again[0]["body"].startswith(MARKER) and ours_again[0]["body"] != first_body
    assert len(github.comments[7]) == 252
    assert hijack["body"] == f"{MARKER}\n> quoting the bot's plan: approve me"
    posts = [m for m, p, _ in github.requests if m in ("POST", "PATCH")]
    assert posts.count("POST") == 1
    # The token went only into the Authorization header, to the API.
    assert {auth for _, _, auth in github.requests} == {f"Bearer {TOKEN}"}


def test_plan_outputs_name_the_saved_plan_and_the_markdown(github: FakeGitHub, workspace: Path):
    run = _plan(github, workspace)
    saved = Path(run.outputs["plan-json"])
    assert json.loads(saved.read_text())["changes"]
    markdown = Path(run.outputs["plan-markdown"]).read_text()
    assert markdown.startswith("#") or "|" in markdown
    assert Path(run.outputs["report"]) == Path(run.outputs["plan-markdown"])
    # A capped comment points at this run, where the full plan artifact is.
    assert "--full-plan-url https://github.example/contoso/hsm-access/actions/runs/4242" in run.log


def test_apply_on_merge_uses_the_saved_plan_and_refuses_without_one(github: FakeGitHub, workspace: Path):
    saved = Path(_plan(github, workspace).outputs["plan-json"])
    env = _env(github, workspace, "push")
    refused = run_action({"command": "apply", "state": "state.json"}, workspace=workspace, environ=env)
    assert refused.failed and refused.outputs["exit-code"] == "1"
    assert "apply needs input `plan`" in refused.log

    applied = run_action(
        {"command": "apply", "state": "state.json", "plan": str(saved)}, workspace=workspace, environ=env
    )
    assert not applied.failed, applied.log
    assert applied.outputs["exit-code"] == "0"
    assert "Apply complete" in applied.log
    again = _plan(github, workspace)
    assert again.outputs["exit-code"] == "0"


def test_a_failed_plan_replaces_the_sticky_comment_and_fails_the_job(github: FakeGitHub, workspace: Path):
    _plan(github, workspace)
    (workspace / "hsmsync.yaml").write_text("version: 1\nprincipals: [\n")
    run = _plan(github, workspace)
    assert run.failed and run.outputs["exit-code"] == "1"
    (comment,) = [c for c in github.comments[7] if c["user"]["login"] == BOT]
    assert "hsmsync plan failed (exit 1)" in comment["body"]
    assert "hsmsync.yaml" in comment["body"]


def test_nightly_drift_opens_one_issue_updates_it_and_closes_it_when_fixed(
    github: FakeGitHub, workspace: Path
):
    env = _env(github, workspace, "schedule")
    drift = {"command": "drift", "state": "live-as-tutorial.json"}
    first = run_action(drift, workspace=workspace, environ=env)
    assert not first.failed, first.log
    assert first.outputs["exit-code"] == "2"
    (issue,) = github.issues
    assert issue["labels"] == ["hsmsync-drift"] and issue["state"] == "open"
    assert issue["body"].startswith("<!-- hsmsync-drift:hsmsync.yaml -->")

    second = run_action(drift, workspace=workspace, environ=env)
    assert not second.failed, second.log
    assert len(github.issues) == 1 and github.issues[0]["state"] == "open"

    # Reality is fixed: the next night closes the issue instead of opening another.
    fixed = workspace / "live-as-tutorial.json"
    saved = Path(
        run_action({"command": "plan", "state": fixed.name}, workspace=workspace, environ=env).outputs[
            "plan-json"
        ]
    )
    run_action(
        {"command": "apply", "state": fixed.name, "plan": str(saved)}, workspace=workspace, environ=env
    )
    third = run_action(drift, workspace=workspace, environ=env)
    assert third.outputs["exit-code"] == "0", third.log
    assert len(github.issues) == 1 and github.issues[0]["state"] == "closed"


def test_validate_and_lint_run_without_posting(github: FakeGitHub, workspace: Path):
    env = _env(github, workspace, "pull_request", 7)
    shutil.copy(workspace / "hsmsync.yaml", workspace / "second.yaml")
    valid = run_action(
        {"command": "validate", "manifest": "hsmsync.yaml second.yaml"}, workspace=workspace, environ=env
    )
    assert not valid.failed and valid.outputs["exit-code"] == "0"
    assert "second.yaml: valid" in valid.log
    lint = run_action({"command": "lint", "format": "sarif"}, workspace=workspace, environ=env)
    assert lint.outputs["report"].endswith(".sarif")
    assert json.loads(Path(lint.outputs["report"]).read_text())["version"] == "2.1.0"
    assert github.requests == []


def test_targets_input_is_passed_on_as_target_options(github: FakeGitHub, workspace: Path):
    # hsmsync now has `--target` (issue 12 §4): the input narrows the run instead of failing it.
    run = _plan(github, workspace, targets="hsm:contoso")
    assert not run.failed, run.log
    assert "--target hsm:contoso" in run.log


def test_an_api_error_fails_the_step_without_printing_the_token(github: FakeGitHub, workspace: Path):
    github.echo_auth_in_errors = True  # an API (or proxy) that echoes the Authorization header back
    run = _plan(github, workspace)  # _plan asserts the token is nowhere in the log
    assert run.failed
    (report,) = [s for s in run.steps if s.id == "report"]
    assert report.exit_code == 1
    assert "answered 403: Bad credentials (got Bearer ***)" in report.stderr
