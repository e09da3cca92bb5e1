"""Escaping for text that comes from a manifest, a state file or Azure (names, scopes, messages).

Such text is untrusted: a role name, a key or a service message can hold newlines, markup or
terminal and bidi control characters. Renderers pass every such string through one of these
functions, so it reads as data and cannot change the structure around it (a heading, a table
row, a list item, a `<details>` block, a diff line, a terminal line).

- `visible`: control, format (bidi, zero-width) and line/paragraph separator characters become
  visible escapes (`\\n`, `\\u202e`); everything else is kept. For plain text and the start of
  every other escape.
- `md`: `visible`, then every Markdown metacharacter backslash-escaped, `<>&` as entities and
  a zero-width joiner after `@`, after the `:` of `://` and after `www.` (no @mention, no link,
  no autolink, no emphasis, no HTML).
- `md_html`: for text inside raw HTML in Markdown (`<summary>`): HTML-escaped, no @mention, no
  autolink.
- `html`: `visible`, then `html.escape(quote=True)` (safe in text and attribute values).
- `md_code`: `md` inside `<code>` (for scopes and permission lists).
- `fence_ticks`: a code fence longer than any run of backticks in the lines it encloses.
- `csv_cell`: `visible`, then a leading `=`, `+`, `-`, `@` (which a spreadsheet would run as a
  formula) guarded by a `'`; the csv module quotes the rest.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Cc: C0/C1 controls (newline, ESC...); Cf: format (bidi overrides and isolates, zero-width
# space/joiner, BOM...); Zl/Zp: line and paragraph separators; Cs/Co/Cn: surrogates, private
# use and unassigned code points, which no name needs and a terminal may interpret.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
# The ASCII punctuation that starts markup anywhere in a line: escapes, code, emphasis, links
# and images ('(' and '!' do nothing without '['), table cells, strikethrough, math, and a
# heading's closing '#'s. Characters that only matter at the start of a block are handled there.
_MD_SPECIAL = frozenset("\\`*_[]|~$#")
_MD_ENTITY = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}
_LEADING_ORDERED = re.compile(r"^(\d{1,9})([.)])")
ZWJ = "\u200d"  # after '@': GitHub links `@name` only when a name character follows the '@'
# GitHub links bare `https://host`, `www.host` (and `ftp://`) in text; a backslash does not stop
# it (the autolinker reads the text after escapes), a ZWJ where the host would start does.
_AUTOLINK_START = re.compile(r"(?<=:)(?=//)|(?<=www\.)", re.IGNORECASE)


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str) -> str:
    """`text` with every invisible or layout-changing character shown as an escape."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape_char(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in text)


def md(text: str, *, starts_block: bool = False) -> str:
    """Untrusted text for a Markdown line (heading, list item, table cell, emphasis).

    `starts_block`: the text begins a list item or a line, where a leading '-', '#' or '1.'
    would start a list or a heading; its leading punctuation is escaped too.
    """
    out: list[str] = []
    shown = visible(text)
    # At the start of a block, '-', '+', '>', '=', '#' or '1.' would start a list, a quote, a
    # heading or a thematic break: escape a leading punctuation character too.
    escaped_at = set()
    if starts_block and shown and _is_punctuation(shown[0]):
        escaped_at.add(0)
    if starts_block and (lead := _LEADING_ORDERED.match(shown)):
        escaped_at.add(len(lead.group(1)))
    for i, ch in enumerate(shown):
        if ch in _MD_ENTITY:
            out.append(_MD_ENTITY[ch])
        elif ch == "@":
            out.append("@" + ZWJ)
        elif ch in _MD_SPECIAL or i in escaped_at:
            out.append("\\" + ch)
        else:
            out.append(ch)
    escaped = _no_autolink("".join(out))
    # Two trailing spaces at the end of a line are a hard line break: keep them, as entities.
    body = escaped.rstrip(" ")
    return body + "&#32;" * (len(escaped) - len(body))


def md_code(text: str) -> str:
    """Untrusted text shown as code in Markdown: escaped inside `<code>`, never a code span.

    (A code span cannot hold a '|' in a table cell without a backslash GFM may pair with the
    text's own; escaped text in `<code>` has no such corner and reads the same once rendered.)
    """
    return f"<code>{md(text)}</code>"


def md_html(text: str) -> str:
    """Untrusted text inside raw HTML of a Markdown document (a `<summary>`)."""
    return _no_autolink(html(text).replace("@", "@" + ZWJ))


def _no_autolink(text: str) -> str:
    return _AUTOLINK_START.sub(ZWJ, text)


def html(text: str) -> str:
    """Untrusted text for HTML: element content or a quoted attribute value."""
    return _html.escape(visible(text), quote=True)


_FORMULA_START = tuple("=+-@")


def csv_cell(text: str) -> str:
    """Untrusted text for a CSV cell an auditor opens in a spreadsheet: never a formula."""
    shown = visible(text)
    return "'" + shown if shown.startswith(_FORMULA_START) else shown


def fence_ticks(text: str, *, minimum: int = 3) -> str:
    """A run of backticks longer than any in `text`: a code fence or span `text` cannot close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(minimum, longest + 1)


def _is_punctuation(ch: str) -> bool:
    return ch.isascii() and not ch.isalnum() and not ch.isspace()
