"""Load `hsmsync.yaml`: YAML with line numbers -> Manifest -> DesiredState.

Every problem is reported as `file:line: field: message`; no traceback reaches the user.
"""

from __future__ import annotations

import difflib
import hashlib
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from hsmsync.core.desired import DesiredState
from hsmsync.core.errors import ManifestError, Problem
from hsmsync.core.ids import GUID_PATTERN
from hsmsync.core.model import Manifest
from hsmsync.core.resolve import resolve_manifest

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class LoadedManifest:
    path: Path
    manifest: Manifest
    desired: DesiredState
    # Line numbers by document path, so later stages (lint, SARIF) can point at a line too.
    positions: _Positions = field(default_factory=lambda: _Positions())
    digest: str = ""  # sha256 of the file's bytes: what a saved plan is bound to


class _Positions:
    """Line numbers (1-based) of every key and value in the document, by path."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}

    def line_of(self, loc: Loc) -> int:
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return 1


def _construct(
    node: yaml.Node, loc: Loc, pos: _Positions, problems: list[Problem], loader: yaml.SafeLoader
) -> Any:
    pos.lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, bool, float)) or key is None:
                problems.append(Problem(loc, "mapping keys must be plain strings"))
                continue
            key = str(key) if not isinstance(key, str) else key
            child = (*loc, key)
            if key in out:
                pos.lines[child] = key_node.start_mark.line + 1
                problems.append(
                    Problem(
                        child,
                        f"duplicate key '{key}' (first at line {pos.lines.get((*loc, key, '__key__'), '?')})",
                    )
                )
                continue
            pos.lines[(*loc, key, "__key__")] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, child, pos, problems, loader)
            pos.lines.setdefault(child, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*loc, i), pos, problems, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _parse_yaml(text: str, pos: _Positions, problems: list[Problem]) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _construct(node, (), pos, problems, loader)
    finally:
        loader.dispose()


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X`, `X | None`, `dict[str, X]` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(loc: Loc) -> list[str]:
    """The field names allowed in the mapping at `loc` (for "did you mean")."""
    model: type[BaseModel] | None = Manifest
    i = 0
    while model is not None and i < len(loc):
        info = model.model_fields.get(str(loc[i]))
        if info is None:
            return []
        annotation = info.annotation
        model = _model_in(annotation)
        origin = typing.get_origin(annotation)
        # dict keys and list indexes are not fields: step over them
        if origin is dict or (origin is None and "dict[" in str(annotation)) or origin is list:
            i += 1
        i += 1
    return list(model.model_fields) if model is not None else []


def _message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        field = error["loc"][-1]
        close = difflib.get_close_matches(str(field), _fields_at(tuple(error["loc"][:-1])), n=1)
        return f"unknown field '{field}'" + (f"; did you mean '{close[0]}'?" if close else "")
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == GUID_PATTERN:
        return f"'{value}' is not a GUID (expected e.g. 00000000-0000-0000-0000-000000000000)"
    if kind == "string_pattern_mismatch":
        return f"'{value}' does not have the expected form ({error['ctx']['pattern']})"
    if kind == "missing":
        return "required field is missing"
    if value is None and kind in ("list_type", "dict_type", "model_type", "string_type"):
        expected = {"list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping"}
        return f"is empty; expected {expected.get(kind, 'a value')}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "literal_error":
        return f"'{value}' is not allowed; expected {error['ctx']['expected']}"
    return (
        f"{error['msg']} (got {value!r})"
        if value is not None and not isinstance(value, dict | list)
        else str(error["msg"])
    )


def _validation_problems(exc: ValidationError) -> Iterator[Problem]:
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if p not in ("[key]",))
        yield Problem(loc, _message(error))


def render_problems(path: Path, problems: list[Problem], pos: _Positions) -> str:
    lines = sorted((pos.line_of(p.loc), p.field, p.message) for p in problems)
    return "\n".join(f"{path}:{line}: {field}: {message}" for line, field, message in lines)


def parse_manifest(text: str, path: Path) -> LoadedManifest:
    """Parse manifest text; raises ManifestError whose message names file, line and field."""
    pos = _Positions()
    problems: list[Problem] = []
    try:
        data = _parse_yaml(text, pos, problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ManifestError(
            [Problem((), f"invalid YAML: {exc.problem}")],
            f"{path}:{line}: (document): invalid YAML: {exc.problem}",
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestError(
            [Problem((), f"invalid YAML: {exc}")], f"{path}:1: (document): invalid YAML: {exc}"
        ) from None
    if problems:
        raise ManifestError(problems, render_problems(path, problems, pos))
    if not isinstance(data, dict):
        p = [Problem((), "the manifest must be a mapping with `version: 1` at the top")]
        raise ManifestError(p, render_problems(path, p, pos))
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        problems = list(_validation_problems(exc))
        raise ManifestError(problems, render_problems(path, problems, pos)) from None
    try:
        desired = resolve_manifest(manifest)
    except ManifestError as exc:
        raise ManifestError(exc.problems, render_problems(path, exc.problems, pos)) from None
    return LoadedManifest(path=path, manifest=manifest, desired=desired, positions=pos)


def load_manifest(path: Path, *, display: Path | None = None) -> LoadedManifest:
    """Read and parse; `display` is how errors name the file (as the user typed it)."""
    shown = display or path
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ManifestError([], f"{shown}: manifest not found (use -f/--file to name it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([], f"{shown}: cannot read manifest: {exc}") from None
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    return replace(parse_manifest(text, shown), digest=digest)
