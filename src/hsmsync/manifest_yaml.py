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
from collections import deque
from collections.abc import Callable
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
        # Read narrowed to some HSMs (`--target`): per team, the document's index of each of its
        # `data` entries that was read (the others were skipped); lines are by the document's index.
        self.data_read: dict[str, list[int]] = {}

    def in_document(self, loc: Loc) -> Loc:
        """`loc` in the data as read -> the same place in the document (they differ only inside a
        team's `data` when the read was narrowed)."""
        if len(loc) > 3 and loc[0] == "teams" and loc[2] == "data" and isinstance(loc[3], int):
            read = self.data_read.get(str(loc[1]))
            if read is not None and loc[3] < len(read):
                return (*loc[:3], read[loc[3]], *loc[4:])
        return loc

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


def check_events(text: str, display: Path | str) -> frozenset[str]:
    """Refuse aliases, anchors, tags, merge keys and deep nesting (see the module doc); the keys of
    the top-level `hsms` mapping as written (what a narrowed read needs to know before `teams`)."""
    stack: list[list[bool]] = []  # per open collection: [is a mapping, next node is a key]
    documents = 0
    hsms = _DeclaredHsms()
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
                _enter(stack, event, hsms)
                if len(stack) > MAX_DEPTH:
                    raise _refuse(display, line, f"nested more than {MAX_DEPTH} levels deep")
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, display) from None
    return frozenset(hsms.names)


class _DeclaredHsms:
    """The keys of the top-level `hsms` mapping, as written, seen as the events go by."""

    def __init__(self) -> None:
        self.top_key: str | None = None  # the key of the top-level entry being read
        self.names: set[str] = set()

    def key(self, key: str, depth: int) -> None:
        if depth == 1:
            self.top_key = key
        elif depth == 2 and self.top_key == "hsms":
            self.names.add(key)


def _enter(stack: list[list[bool]], event: yaml.Event, hsms: _DeclaredHsms) -> None:
    """A scalar or a collection starts: a key or a value of the mapping it is in, if any."""
    if stack and stack[-1][0]:
        if stack[-1][1] and isinstance(event, yaml.ScalarEvent):
            hsms.key(event.value, len(stack))
        stack[-1][1] = not stack[-1][1]
    if isinstance(event, yaml.CollectionStartEvent):
        stack.append([isinstance(event, yaml.MappingStartEvent), True])


def _yaml_error(exc: yaml.YAMLError, text: str, display: Path | str) -> ManifestError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return _refuse(display, line, f"invalid YAML: {exc.problem}")
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        return _refuse(display, line, f"invalid YAML: character U+{int(exc.character):04X} is not allowed")
    return _refuse(display, 1, f"invalid YAML: {exc}")


class _Events:
    """The parser's events, one at a time, and what PyYAML's composer and constructor would make
    of a scalar (typed here: PyYAML's stubs leave these methods untyped)."""

    def __init__(self, loader: yaml.SafeLoader, elsewhere: frozenset[str] = frozenset()) -> None:
        self._loader: Any = loader
        self._pending: deque[yaml.Event] = deque()  # looked at, to be read again
        # HSMs declared but not read (a narrowed read): team `data` entries on them are skipped.
        self.elsewhere = elsewhere

    def next(self) -> yaml.Event:
        if self._pending:
            return self._pending.popleft()
        event: yaml.Event = self._loader.get_event()
        return event

    def at(self, kind: type[yaml.Event]) -> bool:
        if self._pending:
            return isinstance(self._pending[0], kind)
        return bool(self._loader.check_event(kind))

    def _is_text(self, event: yaml.Event) -> bool:
        """A scalar that reads as a string (as `scalar` would resolve it)."""
        return isinstance(event, yaml.ScalarEvent) and self.scalar(event).tag == _STR_TAG

    def skipped_entry(self, event: yaml.Event) -> bool:
        """Whether the team `data` entry `event` starts is on an HSM `elsewhere`: then it has been
        consumed unread; else its events are read again from `event` on."""
        if not self.elsewhere or not isinstance(event, yaml.MappingStartEvent):
            return False
        get: Callable[[], yaml.Event] = self.next if self._pending else self._loader.get_event
        entry: list[yaml.Event] = [event]
        while len(entry) < 64:
            entry.append(get())
            if isinstance(entry[-1], yaml.MappingEndEvent | yaml.CollectionStartEvent):
                break  # the entry's end, or a nested value: not a flat entry, read in full as written
        pairs = [e for e in entry[1:-1] if isinstance(e, yaml.ScalarEvent)]
        flat = isinstance(entry[-1], yaml.MappingEndEvent) and len(pairs) == len(entry) - 2
        on = [v for k, v in zip(pairs[::2], pairs[1::2], strict=False) if flat and k.value == "hsm"]
        if len(on) == 1 and self._is_text(on[0]) and on[0].value in self.elsewhere:
            return True
        self._pending.extend(entry[1:])
        return False

    def scalar(self, event: yaml.ScalarEvent) -> yaml.ScalarNode:
        """The node the composer would make (its tag resolved the same way)."""
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        start: Any = event.start_mark
        end: Any = event.end_mark
        return yaml.ScalarNode(tag, event.value, start, end, style=event.style)

    def value(self, node: yaml.ScalarNode) -> Any:
        value = self._loader.construct_object(node, deep=True)
        self._loader.constructed_objects.pop(node, None)  # kept for aliases, which are refused
        return value

    def skip(self, event: yaml.Event) -> None:
        """Consume the rest of the node `event` starts (a key or value that is not kept)."""
        depth = int(isinstance(event, yaml.CollectionStartEvent))
        while depth:
            following = self.next()
            depth += isinstance(following, yaml.CollectionStartEvent)
            depth -= isinstance(following, yaml.CollectionEndEvent)


def _line(event: yaml.Event | yaml.Node) -> int:
    mark: Any = event.start_mark
    return int(mark.line) + 1 if mark is not None else 1


def _construct(event: yaml.Event, loc: Loc, pos: Positions, problems: list[Problem], events: _Events) -> Any:
    """Plain data of the node `event` starts, read from the parser's events as they come: a large
    manifest's composed node tree (libyaml's nodes and their marks) would take several times the
    memory of the data built from it."""
    pos.lines[loc] = _line(event)
    if isinstance(event, yaml.MappingStartEvent):
        out: dict[str, Any] = {}
        while not events.at(yaml.MappingEndEvent):
            key_event = events.next()
            if not isinstance(key_event, yaml.ScalarEvent):
                problems.append(Problem(loc, "mapping keys must be plain strings"))
                events.skip(key_event)
                events.skip(events.next())
                continue
            key_node = events.scalar(key_event)
            key = key_node.value
            child = (*loc, key)
            # `no:` is False and `1.0:` 1.0 to YAML 1.1 (PyYAML); `0o17:`, `1e3:` numbers to YAML 1.2.
            # A plain scalar has no style (None from PyYAML's parser, "" from libyaml's).
            if key_node.tag != _STR_TAG or (not key_node.style and _YAML12_NUMBER.match(key)):
                pos.lines[child] = _line(key_node)
                kind = key_node.tag.rsplit(":", 1)[-1] if key_node.tag != _STR_TAG else "a number"
                message = f"key '{key}' is not a string to YAML (it reads as {kind}); quote it: '{key}'"
                problems.append(Problem(child, message))
                events.skip(events.next())
                continue
            if key in out:
                pos.lines[child] = _line(key_node)
                first = pos.key_line(child) or "?"
                problems.append(Problem(child, f"duplicate key '{key}' (first at line {first})"))
                events.skip(events.next())
                continue
            pos.lines[(*child, "__key__")] = _line(key_node)
            out[key] = _construct(events.next(), child, pos, problems, events)
            pos.lines.setdefault(child, _line(key_node))
        events.next()
        return out
    if isinstance(event, yaml.SequenceStartEvent):
        return _construct_items(loc, pos, problems, events)
    if not isinstance(event, yaml.ScalarEvent):  # an alias: refused before (check_events)
        raise yaml.YAMLError(f"line {_line(event)}: unexpected {type(event).__name__}")
    return events.value(events.scalar(event))


def _construct_items(loc: Loc, pos: Positions, problems: list[Problem], events: _Events) -> list[Any]:
    """The items of the sequence at `loc`; in a narrowed read, a team's `data` entries on other
    HSMs are skipped (lines stay by the document's index: Positions.data_read)."""
    items: list[Any] = []
    narrowed = bool(events.elsewhere) and len(loc) == 3 and loc[0] == "teams" and loc[2] == "data"
    read: list[int] = []
    index = 0
    while not events.at(yaml.SequenceEndEvent):
        item = events.next()
        if not (narrowed and events.skipped_entry(item)):
            items.append(_construct(item, (*loc, index), pos, problems, events))
            read.append(index)
        index += 1
    events.next()
    if narrowed:
        pos.data_read[str(loc[1])] = read
    return items


def parse_yaml(
    text: str,
    display: Path | str,
    pos: Positions,
    problems: list[Problem],
    hsms: frozenset[str] | None = None,
) -> Any:
    """Plain data (dicts, lists, scalars) with positions; document-level refusals raise. With
    `hsms` (a `--target` run), a team's `data` entry on another declared HSM is skipped unread
    (see Positions.data_read); everything else is read as written."""
    declared = check_events(text, display)
    loader = _LOADER(text)
    events = _Events(loader, declared - hsms if hsms is not None else frozenset())
    try:
        events.next()  # the stream's start
        if events.at(yaml.StreamEndEvent):
            return None  # no document
        events.next()  # the document's start (check_events allows one document only)
        return _construct(events.next(), (), pos, problems, events)
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
