"""Hostile names from the manifest and from live state cannot reshape any output (issue 9, item 11).

Golden files per renderer (`plan` text/json/markdown/html and `drift` markdown/text) of a plan whose
role names, descriptions and scopes carry Markdown, HTML, comment openers, backticks, pipes,
@mentions, ANSI escapes and bidi/zero-width characters. Regenerate: UPDATE_GOLDEN=1 pytest.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.cli.test_golden import _check
from tests.conftest import run_cli

HOSTILE = Path(__file__).parent / "hostile"
_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")
# What GitHub's autolink extension links in text: a URL scheme's `://`, or `www.`, before a host.
_AUTOLINK = re.compile(r"(?:https?|ftp)://\w|(?<![\w.])www\.\w", re.IGNORECASE)
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    for f in HOSTILE.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def markdown_structure(text: str) -> Counter[str]:
    """Block and inline tokens that are markup (not text), as GitHub-flavoured Markdown reads them."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    counts: Counter[str] = Counter()
    for token in md.parse(text):
        if token.type != "inline":
            counts[token.type] += 1
        if token.type == "html_block":
            counts.update(f"html_block:{t}" for t in html_structure(token.content))
        for child in token.children or ():
            if child.type not in ("text", "softbreak"):
                counts[f"inline:{child.type}:{child.content if child.type == 'html_inline' else ''}"] += 1
    return counts


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(f"<{tag} {sorted(attrs)}>")

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(f"</{tag}>")

    def handle_comment(self, data: str) -> None:
        self.tags.append("<!--comment-->")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_structure(text: str) -> Counter[str]:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return Counter(parser.tags)


def test_markdown_plan_keeps_its_structure_and_mentions_nobody(hostile: Path):
    result = run_cli("plan", "--state", "live.json", "--format", "markdown", cwd=hostile)
    assert result.exit_code == 0, result.stderr
    _check("hostile.plan.md", result.stdout)
    structure = markdown_structure(result.stdout)
    # Exactly our own markup: 1 h3 + 2 h4 (high risk, who can do what) + 1 h4 lint; 2 <details>
    assert structure["heading_open"] == 4
    assert structure["html_block"] == 4  # <details><summary> and </details>, twice
    assert structure["html_block:<details []>"] == 2 and structure["html_block:</details>"] == 2
    # header rows of the access, details and unmanaged tables; 5 access groups, 7 changes, 1 unmanaged
    assert structure["tr_open"] == 3 + 5 + 7 + 1
    assert structure["inline:html_inline:<!--"] == 0
    assert not any(k.startswith("inline:link_open") for k in structure)
    assert structure["inline:strong_open:"] == 1  # the summary line
    assert structure["inline:html_inline:<b>"] == 3 + 2  # 3 high-risk roles, 2 role definitions
    assert not _INVISIBLE.search(result.stdout)
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    texts = [c.content for t in md.parse(result.stdout) for c in (t.children or ()) if c.type == "text"]
    assert not any(_MENTION.search(t) for t in texts)
    assert not any(_AUTOLINK.search(t) for t in texts)  # GitHub would link bare URLs in text
    assert "APPROVED" in result.stdout  # shown, as text
    assert "https:\u200d//evil.example/x www.\u200devil.example" in result.stdout  # shown, not linked


def test_html_plan_keeps_its_structure(hostile: Path):
    result = run_cli("plan", "--state", "live.json", "--format", "html", cwd=hostile)
    assert result.exit_code == 0, result.stderr
    _check("hostile.plan.html", result.stdout)
    tags = html_structure(result.stdout)
    assert tags["<tr [('class', 'create')]>"] + tags["<tr [('class', 'create risk')]>"] == 5
    assert tags["<!--comment-->"] == 0 and tags["<script []>"] == 0 and tags["</details>"] == 0
    assert not _INVISIBLE.search(result.stdout)


@pytest.mark.parametrize(("fmt", "ext"), [("text", "txt"), ("json", "json")])
def test_text_and_json_plans_match_golden(hostile: Path, fmt: str, ext: str):
    result = run_cli("plan", "--state", "live.json", "--format", fmt, cwd=hostile)
    assert result.exit_code == 0, result.stderr
    _check(f"hostile.plan.{ext}", result.stdout)
    assert not _INVISIBLE.search(result.stdout)  # no ANSI escape, no bidi override reaches a terminal
    if fmt == "text":
        # every line is one of ours: no name starts a line of its own
        assert all(
            not line or line.startswith((" ", "hsmsync", "Plan:", "Access", "Lint", "HSM", "Unmanaged"))
            for line in result.stdout.splitlines()
        )


@pytest.mark.parametrize(("fmt", "ext"), [("markdown", "md"), ("text", "txt")])
def test_drift_report_keeps_one_line_per_item(hostile: Path, fmt: str, ext: str):
    result = run_cli("drift", "--state", "live.json", "--format", fmt, cwd=hostile)
    assert result.exit_code == 2, result.stderr
    _check(f"hostile.drift.{ext}", result.stdout)
    assert not _INVISIBLE.search(result.stdout)
    if fmt == "markdown":
        tokens = MarkdownIt("commonmark", {"html": True}).parse(result.stdout)
        fences = [t for t in tokens if t.type == "fence"]
        assert len(fences) == 1 and [t.type for t in tokens].count("heading_open") == 1
        assert len(fences[0].content.splitlines()) == 8  # 7 drifted + 1 unmanaged


def test_issue_repro_hsm_key_opening_a_comment_hides_nothing(hostile: Path):
    """The issue's repro: an HSM key `contoso\\n\\n<!--`. Refused by the manifest's name rules, or
    rendered as text: either way the Administrator grant stays visible."""
    manifest = (hostile / "hsmsync.yaml").read_text()
    manifest = manifest.replace("  contoso:", '  "contoso\\n\\n<!--":').replace(
        "hsm: contoso", 'hsm: "contoso\\n\\n<!--"'
    )
    (hostile / "hsmsync.yaml").write_text(manifest)
    hsm = {"url": "https://contosomhsm.managedhsm.azure.net"}
    (hostile / "empty.json").write_text(json.dumps({"version": 1, "hsms": {"contoso\n\n<!--": hsm}}))
    result = run_cli("plan", "--state", "empty.json", "--format", "markdown", cwd=hostile)
    if result.exit_code == 1:
        assert "hsmsync.yaml" in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    structure = markdown_structure(result.stdout)
    assert structure["inline:html_inline:<!--"] == 0 and structure["html_block"] == 2
    visible_text = "".join(
        c.content
        for t in MarkdownIt("commonmark", {"html": True}).enable("table").parse(result.stdout)
        for c in (t.children or ())
        if c.type == "text"
    )
    assert "Managed HSM Administrator" in visible_text and "contoso\\n\\n<!--" in visible_text
