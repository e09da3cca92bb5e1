"""Read a manifest's bytes and YAML text into plain data with the line of every key and value.

One reader for every command (validate, plan, apply, drift, lint, whocan, explain, export -f and
resolve), so they all accept and refuse the same documents. It refuses, with `file:line`:
- bytes that are not UTF-8 (UTF-16/32, latin-1, stray bytes), naming the line of the first bad byte;
- anchors, aliases and merge keys (`&a`, `*a`, `<<`): a manifest is read by people reviewing
  access, so every value is written where it applies; this also bounds time and memory (no alias
  bombs, no recursive structures);
- tags (`!!str`, `!custom`): one document means one thing for every YAML reader;
- nesting deeper than MAX_DEPTH (no manifest needs more than a handful of levels).
These checks run on the parser's event stream, which is linear in the input and not recursive,
before anything is composed.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from hsmsync.core.errors import ManifestError, Problem

Loc = tuple[str | int, ...]
MAX_DEPTH = 32
_STR_TAG = "tag:yaml.org,2002:str"
# Numbers to YAML 1.2 (ruamel.yaml, which `resolve` edits with) that PyYAML's 1.1 reads as strings
_YAML12_NUMBER = re.compile(r"^(0o[0-7]+|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?)$")
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


class Positions:
    """Line numbers (1-based) of every key and value in the document, by path; for a manifest
    merged from a directory, also the file each one is in (`files`, set where it is not the one
    the manifest is named by)."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}
        self.files: dict[Loc, str] = {}

    def _nearest(self, loc: Loc) -> Loc | None:
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return loc[:n]
        return None

    def line_of(self, loc: Loc) -> int:
        nearest = self._nearest(loc)
        return 1 if nearest is None else self.lines[nearest]

    def file_of(self, loc: Loc) -> str | None:
        """The file `line_of(loc)` is a line of, when the manifest spans several files."""
        nearest = self._nearest(loc)
        return None if nearest is None else self.files.get(nearest)

    def key_line(self, loc: Loc) -> int | None:
        """The line of the key at `loc` (None when there is none)."""
        return self.lines.get((*loc, "__key__"))

    def key_file(self, loc: Loc) -> str | None:
        return self.files.get((*loc, "__key__"))

    def where(self, loc: Loc, *, about_key: bool = False) -> tuple[str | None, int]:
        """(file or None for the manifest's own, line) of the key (when `about_key`) or value."""
        key_line = self.key_line(loc) if about_key else None
        if key_line is not None:
            return self.key_file(loc), key_line
        return self.file_of(loc), self.line_of(loc)


def _refuse(display: Path | str, line: int, message: str) -> ManifestError:
    return ManifestError([Problem((), message)], f"{display}:{line}: (document): {message}")


def decode_manifest(raw: bytes, display: Path | str) -> str:
    """The text of a UTF-8 manifest (a UTF-8 byte order mark is dropped); else a file:line error."""
    for bom, encoding in _FOREIGN_BOMS:
        if raw.startswith(bom):
            raise _refuse(display, 1, f"the manifest is {encoding}; save it as UTF-8")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _refuse(
            display,
            line,
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {column}; save the file as UTF-8",
        ) from None
    nul = text.find("\0")
    if nul >= 0:  # UTF-16 without a byte order mark decodes as UTF-8 with NULs
        raise _refuse(display, text.count("\n", 0, nul) + 1, "NUL byte in the manifest (is it UTF-16?)")
    return text


def _event_problem(event: yaml.Event, stack: list[list[bool]]) -> str | None:
    if isinstance(event, yaml.AliasEvent):
        return f"alias '*{event.anchor}' is not allowed in a manifest: write the value out where it applies"
    anchor = getattr(event, "anchor", None)
    if anchor is not None:
        return f"anchor '&{anchor}' is not allowed in a manifest: write the value out where it applies"
    tag = getattr(event, "tag", None)
    if tag is not None:
        return f"tag '{tag}' is not allowed in a manifest: write the plain value"
    in_key = bool(stack) and stack[-1][0] and stack[-1][1]
    if in_key and isinstance(event, yaml.ScalarEvent) and event.value == "<<" and event.implicit[0]:
        return "merge key '<<' is not allowed in a manifest: write the fields out"
    return None


# libyaml's parser when PyYAML was built with it (the wheels are): the same events and marks,
# an order of magnitude faster than the pure-Python one, which dominated `plan` at scale.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_events(text: str, display: Path | str) -> None:
    """Refuse aliases, anchors, tags, merge keys and deep nesting (see the module doc)."""
    stack: list[list[bool]] = []  # per open collection: [is a mapping, next node is a key]
    documents = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            problem = _event_problem(event, stack)
            line = event.start_mark.line + 1 if event.start_mark else 1
            if problem:
                raise _refuse(display, line, problem)
            documents += isinstance(event, yaml.DocumentStartEvent)
            if documents > 1:
                raise _refuse(display, line, "a manifest is a single YAML document; found a second one")
            if isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
            elif isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
                if stack and stack[-1][0]:
                    stack[-1][1] = not stack[-1][1]
                if isinstance(event, yaml.CollectionStartEvent):
                    stack.append([isinstance(event, yaml.MappingStartEvent), True])
                    if len(stack) > MAX_DEPTH:
                        raise _refuse(display, line, f"nested more than {MAX_DEPTH} levels deep")
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, display) from None


def _yaml_error(exc: yaml.YAMLError, text: str, display: Path | str) -> ManifestError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return _refuse(display, line, f"invalid YAML: {exc.problem}")
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        return _refuse(display, line, f"invalid YAML: character U+{int(exc.character):04X} is not allowed")
    return _refuse(display, 1, f"invalid YAML: {exc}")


def _construct(
    node: yaml.Node, loc: Loc, pos: Positions, problems: list[Problem], loader: yaml.SafeLoader
) -> Any:
    pos.lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in _release(node):
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(loc, "mapping keys must be plain strings"))
                continue
            key = key_node.value
            child = (*loc, key)
            # `no:` is False and `1.0:` 1.0 to YAML 1.1 (PyYAML); `0o17:`, `1e3:` numbers to YAML 1.2.
            # A plain scalar has no style (None from PyYAML's parser, "" from libyaml's).
            if key_node.tag != _STR_TAG or (not key_node.style and _YAML12_NUMBER.match(key)):
                pos.lines[child] = key_node.start_mark.line + 1
                kind = key_node.tag.rsplit(":", 1)[-1] if key_node.tag != _STR_TAG else "a number"
                message = f"key '{key}' is not a string to YAML (it reads as {kind}); quote it: '{key}'"
                problems.append(Problem(child, message))
                continue
            if key in out:
                pos.lines[child] = key_node.start_mark.line + 1
                first = pos.key_line(child) or "?"
                problems.append(Problem(child, f"duplicate key '{key}' (first at line {first})"))
                continue
            pos.lines[(*child, "__key__")] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, child, pos, problems, loader)
            pos.lines.setdefault(child, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*loc, i), pos, problems, loader) for i, item in enumerate(_release(node))]
    value = loader.construct_object(node, deep=True)
    loader.constructed_objects.pop(node, None)  # kept for aliases, which a manifest may not have
    return value


def _release(node: yaml.CollectionNode) -> Iterator[Any]:
    """A collection node's children, each let go by the node as it is handed out: a large
    manifest's node tree (libyaml's nodes and marks) is several times the size of the data
    built from it, and is freed while the data is built instead of after."""
    children: list[Any] = node.value
    node.value = []
    children.reverse()
    while children:
        yield children.pop()


def parse_yaml(text: str, display: Path | str, pos: Positions, problems: list[Problem]) -> Any:
    """Plain data (dicts, lists, scalars) with positions; document-level refusals raise."""
    check_events(text, display)
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _construct(node, (), pos, problems, loader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, display) from None
    finally:
        loader.dispose()


def read_manifest_bytes(path: Path, display: Path | str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError([], f"{display}: manifest not found (use -f/--file to name it)") from None
    except IsADirectoryError:  # only `resolve` gets here: it edits one file in place
        raise ManifestError(
            [], f"{display}: is a directory; this command edits one manifest file: run it on each file"
        ) from None
    except OSError as exc:
        raise ManifestError([], f"{display}: cannot read manifest: {exc.strerror or exc}") from None


def render_problems(path: Path, problems: list[Problem], pos: Positions) -> str:
    """`file:line: field: message`, sorted; the file is the one each line is in (see Positions)."""
    located = []
    for p in problems:
        file, line = pos.where(p.loc, about_key=p.about_key)
        located.append((file or str(path), line, p.field, p.message))
    return "\n".join(f"{file}:{line}: {field}: {message}" for file, line, field, message in sorted(located))
