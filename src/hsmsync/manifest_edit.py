"""Write principal ids into the manifest's text, leaving every other byte as it was.

ruamel.yaml's round-trip loader gives the position of every key and value; the ids are inserted
there as text (`id: <guid>` after `type`, in flow `{...}` and block mappings alike), so comments,
order, alignment and quoting elsewhere stay byte for byte. The result is re-read (ruamel and
PyYAML, which hsmsync loads with) and must equal the old document plus the ids; if a layout defeats
the text edit (anchors, merge keys...), ruamel's round-trip dump writes it instead (comments and
order kept, spacing may be normalised).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError

from hsmsync.core.errors import HsmsyncError

_NULL_ID = re.compile(r"""(?:id|"id"|'id')[ \t]*:[ \t]*(?:null|Null|NULL|~)?(?=[ \t]*(?:[,}#\r\n]|$))""")
_PLAIN_END = re.compile(r"[^,}#\r\n]*")


def _round_trip() -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # the fallback dump must not fold long lines (resource ids)
    return rt


class _EditFailed(Exception):
    pass


class ManifestDocument:
    """A manifest's text and its round-trip parse (for line numbers and for writing ids)."""

    def __init__(self, text: str, display: str) -> None:
        self.text = text
        self.display = display
        try:
            self.doc = _round_trip().load(text)
        except RuamelError as exc:
            raise HsmsyncError(f"{display}: cannot parse for editing: {exc}") from None
        principals = self.doc.get("principals") if isinstance(self.doc, CommentedMap) else None
        self.principals: CommentedMap = principals if isinstance(principals, CommentedMap) else CommentedMap()

    def line_of(self, key: str, field: str | None = None) -> int:
        """1-based line of principal `key` (of its `field` when that is written)."""
        try:
            node = self.principals[key]
            if field and isinstance(node, CommentedMap) and field in node:
                return int(node.lc.key(field)[0]) + 1
            return int(self.principals.lc.key(key)[0]) + 1
        except (KeyError, AttributeError, TypeError):
            return 1

    def with_ids(self, ids: Mapping[str, str]) -> str:
        """The text with `id: <guid>` written into each principal in `ids`."""
        if not ids:
            return self.text
        try:
            edited = self._edit_text(ids)
            self._verify(edited, ids)
            return edited
        except (_EditFailed, KeyError, IndexError, AttributeError, TypeError, RuamelError, yaml.YAMLError):
            pass
        try:
            dumped = self._dump(ids)
            self._verify(dumped, ids)
        except (_EditFailed, KeyError, IndexError, AttributeError, TypeError, RuamelError) as exc:
            raise HsmsyncError(f"{self.display}: could not write the ids into the manifest ({exc})") from None
        return dumped

    # -- the text edit --------------------------------------------------------------------------

    def _edit_text(self, ids: Mapping[str, str]) -> str:
        lines = self.text.splitlines(keepends=True)
        newline = "\r\n" if "\r\n" in self.text else "\n"
        edits: list[tuple[int, int, int, str]] = []  # (line, start col, end col, replacement)
        for key, object_id in ids.items():
            node = self.principals[key]
            if not isinstance(node, CommentedMap) or "type" not in node:
                raise _EditFailed(key)
            if "id" in node:  # `id:` written without a value
                line, col = node.lc.key("id")
                m = _NULL_ID.match(lines[line], col)
                if m is None:
                    raise _EditFailed(key)
                edits.append((line, col, m.end(), f"id: {object_id}"))
            elif node.fa.flow_style():
                line, col = node.lc.value("type")
                end = _scalar_end(lines[line], col)
                edits.append((line, end, end, f", id: {object_id}"))
            else:
                key_line, key_col = node.lc.key("type")
                line = node.lc.value("type")[0]
                if line != key_line:
                    raise _EditFailed(key)
                text = lines[line]
                # after the `type` line; a last line without a newline gets one first
                prefix = "" if text.endswith("\n") else newline
                edits.append((line, len(text), len(text), f"{prefix}{' ' * key_col}id: {object_id}{newline}"))
        for line, start, end, replacement in sorted(edits, reverse=True):
            text = lines[line]
            lines[line] = text[:start] + replacement + text[end:]
        return "".join(lines)

    # -- the fallback ---------------------------------------------------------------------------

    def _dump(self, ids: Mapping[str, str]) -> str:
        doc = _round_trip().load(self.text)
        principals = doc["principals"]
        for key, object_id in ids.items():
            node = principals[key]
            if "id" in node:
                node["id"] = object_id
            else:
                keys = list(node)
                node.insert(keys.index("type") + 1 if "type" in keys else 0, "id", object_id)
        out = io.StringIO()
        _round_trip().dump(doc, out)
        return out.getvalue()

    # -- the check ------------------------------------------------------------------------------

    def _verify(self, text: str, ids: Mapping[str, str]) -> None:
        """`text` must read as the old document plus exactly these ids (both YAML readers)."""
        expected = _plain(self.doc)
        for key, object_id in ids.items():
            expected["principals"][key] = _with_id(expected["principals"][key], object_id)
        try:
            got = _plain(_round_trip().load(text))
            pyyaml = yaml.safe_load(text)
        except (RuamelError, yaml.YAMLError) as exc:
            raise _EditFailed(str(exc)) from None
        # the same data (ids included), and the same order apart from where `id` went
        if got != expected or _ordered(_without_ids(got, ids)) != _ordered(_without_ids(expected, ids)):
            raise _EditFailed("the edited document differs")
        for key, object_id in ids.items():
            if str(pyyaml["principals"][key].get("id")) != object_id:
                raise _EditFailed(key)


def _scalar_end(line: str, col: int) -> int:
    """Where the scalar starting at `col` ends (flow context)."""
    if col < len(line) and line[col] in "'\"":
        quote, i = line[col], col + 1
        while i < len(line):
            if quote == '"' and line[i] == "\\":
                i += 2
                continue
            if line[i] == quote:
                if quote == "'" and line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise _EditFailed("unterminated quote")
    m = _PLAIN_END.match(line, col)
    assert m is not None  # the pattern matches the empty string
    return col + len(m.group(0).rstrip())


def _with_id(principal: dict[str, Any], object_id: str) -> dict[str, Any]:
    """The principal with `id` set: in place if written, else right after `type`."""
    if "id" in principal:
        return {**principal, "id": object_id}
    out: dict[str, Any] = {}
    for k, v in principal.items():
        out[k] = v
        if k == "type":
            out["id"] = object_id
    out.setdefault("id", object_id)
    return out


def _without_ids(doc: dict[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    principals = {
        key: {k: v for k, v in p.items() if k != "id"} if key in ids and isinstance(p, dict) else p
        for key, p in doc["principals"].items()
    }
    return {**doc, "principals": principals}


def _plain(node: Any) -> Any:
    if isinstance(node, CommentedMap | dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq | list):
        return [_plain(v) for v in node]
    return node


def _ordered(node: Any) -> Any:
    """Plain data with key order made significant."""
    if isinstance(node, dict):
        return [(k, _ordered(v)) for k, v in node.items()]
    if isinstance(node, list):
        return [_ordered(v) for v in node]
    return node


__all__ = ["ManifestDocument"]
