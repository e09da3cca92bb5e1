"""Post an hsmsync report to GitHub: ONE sticky pull-request comment, or ONE drift issue.

    python github_report.py comment --body-file plan.md --key hsmsync.yaml [--pr N]
    python github_report.py issue --body-file drift.md --key hsmsync.yaml --drifted true|false

The comment (or issue) is found again by a hidden marker on its first line,
`<!-- hsmsync-plan:KEY -->` (`hsmsync-drift:` for issues), written only by the expected author (the
Actions bot by default): another user's comment quoting the marker is never taken over. It is then
updated in place, so a pull request carries one plan comment however often it is pushed, and a
repository one open drift issue per manifest (closed again when the drift is gone).

Environment: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_EVENT_PATH (the pull request),
GITHUB_SERVER_URL and GITHUB_RUN_ID (the link to the full report), GITHUB_OUTPUT.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script by the Action

from github_api import GitHub, GitHubError, Transport, urllib_transport  # noqa: E402

# GitHub rejects a comment or issue body over 65,536 characters; stay clearly below.
MAX_BODY = 65_000
DEFAULT_AUTHOR = "github-actions[bot]"
DRIFT_LABEL = "hsmsync-drift"


@dataclass(frozen=True)
class Posted:
    action: str  # created | updated | closed | unchanged
    number: int  # comment id or issue number
    url: str


def marker(kind: str, key: str) -> str:
    """The hidden first line; the key (a manifest path) cannot close the HTML comment early."""
    safe = re.sub(r"[^A-Za-z0-9._/@+ -]", "_", key).replace("--", "-_")
    return f"<!-- hsmsync-{kind}:{safe} -->"


def cap_body(head: str, text: str, full_report_url: str, limit: int = MAX_BODY) -> str:
    """`head` + as much of `text` as fits in `limit` characters, cut at a line, with a note saying so."""
    body = f"{head}\n{text}"
    if len(body) <= limit:
        return body
    note_template = (
        "\n\n> **Truncated:** {n:,} more characters of this report are not shown "
        "(GitHub's limit is 65,536). The full report: {url}\n"
    )
    room = limit - len(head) - 1 - len(note_template.format(n=len(text), url=full_report_url)) - 8
    kept = text[: max(room, 0)]
    if "\n" in kept:
        kept = kept[: kept.rindex("\n")]
    if kept.count("```") % 2:  # do not leave a code block open around the note
        kept += "\n```"
    left_out = len(text) - len(kept)
    return f"{head}\n{kept}{note_template.format(n=left_out, url=full_report_url)}"


def _is_ours(item: Mapping[str, Any], mark: str, author: str) -> bool:
    user = item.get("user") or {}
    body = item.get("body") or ""
    return bool(user.get("login") == author and body.startswith(mark))


def upsert_comment(gh: GitHub, pr: int, mark: str, body: str, author: str) -> Posted:
    """Update the one comment carrying `mark` by `author`, or create it if there is none."""
    for comment in gh.paginate(f"{gh.repo_path}/issues/{pr}/comments?per_page=100"):
        if _is_ours(comment, mark, author):
            if comment.get("body") == body:
                return Posted("unchanged", comment["id"], comment.get("html_url", ""))
            updated = gh.call("PATCH", f"{gh.repo_path}/issues/comments/{comment['id']}", {"body": body})
            return Posted("updated", updated["id"], updated.get("html_url", ""))
    created = gh.call("POST", f"{gh.repo_path}/issues/{pr}/comments", {"body": body})
    return Posted("created", created["id"], created.get("html_url", ""))


@dataclass(frozen=True)
class DriftReport:
    """What the drift issue should say, and whether there is drift at all."""

    title: str
    body: str
    drifted: bool


def sync_drift_issue(gh: GitHub, mark: str, report: DriftReport, author: str) -> Posted | None:
    """Open or update the one drift issue while drifted; close it once the drift is gone."""
    title, body = report.title, report.body
    found = None
    for issue in gh.paginate(f"{gh.repo_path}/issues?state=open&labels={DRIFT_LABEL}&per_page=100"):
        if "pull_request" not in issue and _is_ours(issue, mark, author):
            found = issue
            break
    path = f"{gh.repo_path}/issues/{found['number']}" if found else f"{gh.repo_path}/issues"
    if not report.drifted:
        if found is None:
            return None
        closed = gh.call("PATCH", path, {"body": body, "state": "closed", "state_reason": "completed"})
        return Posted("closed", closed["number"], closed.get("html_url", ""))
    if found is not None:
        updated = gh.call("PATCH", path, {"title": title, "body": body})
        return Posted("updated", updated["number"], updated.get("html_url", ""))
    created = gh.call("POST", path, {"title": title, "body": body, "labels": [DRIFT_LABEL]})
    return Posted("created", created["number"], created.get("html_url", ""))


def pull_request_number(environ: Mapping[str, str]) -> int | None:
    event_path = environ.get("GITHUB_EVENT_PATH", "")
    if not event_path or not Path(event_path).is_file():
        return None
    event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    number = (event.get("pull_request") or {}).get("number") or (event.get("issue") or {}).get("number")
    return int(number) if number else None


def _run_url(environ: Mapping[str, str]) -> str:
    server = environ.get("GITHUB_SERVER_URL", "https://github.com")
    repo, run_id = environ.get("GITHUB_REPOSITORY", ""), environ.get("GITHUB_RUN_ID", "")
    return f"{server}/{repo}/actions/runs/{run_id} (artifacts)" if run_id else "the workflow run's artifacts"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="github_report.py", description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=["comment", "issue"])
    p.add_argument("--body-file", type=Path, required=True)
    p.add_argument("--key", required=True, help="what the marker names, e.g. the manifest path")
    p.add_argument("--pr", type=int, help="pull request number (default: from GITHUB_EVENT_PATH)")
    p.add_argument("--drifted", choices=["true", "false"], default="true")
    p.add_argument("--title", default="")
    p.add_argument("--author", default=DEFAULT_AUTHOR, help="login whose marked comment is updated")
    return p


def run(argv: Sequence[str], environ: Mapping[str, str], transport: Transport = urllib_transport) -> int:
    args = _parser().parse_args(argv)
    try:
        gh = GitHub(
            environ.get("GITHUB_API_URL", "https://api.github.com"),
            environ.get("GITHUB_REPOSITORY", ""),
            environ.get("GITHUB_TOKEN", ""),
            transport,
        )
        text = args.body_file.read_text(encoding="utf-8")
        if args.kind == "comment":
            pr = args.pr or pull_request_number(environ)
            if pr is None:
                raise GitHubError("not a pull request event: no pull request to comment on (pass --pr)")
            mark = marker("plan", args.key)
            body = cap_body(mark, text, _run_url(environ))
            posted: Posted | None = upsert_comment(gh, pr, mark, body, args.author)
        else:
            mark = marker("drift", args.key)
            title = args.title or f"hsmsync: drift in {args.key}"
            body = cap_body(mark, text, _run_url(environ))
            posted = sync_drift_issue(gh, mark, DriftReport(title, body, args.drifted == "true"), args.author)
    except (GitHubError, OSError) as exc:
        sys.stderr.write(f"::error::{exc}\n")
        return 1
    if posted is None:
        sys.stdout.write("no drift and no open drift issue: nothing to do\n")
        return 0
    sys.stdout.write(f"{args.kind} {posted.action}: {posted.url or posted.number}\n")
    output = environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as fh:
            fh.write(f"{args.kind}-url={posted.url}\n")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:], os.environ))
