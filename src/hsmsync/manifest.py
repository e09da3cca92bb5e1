"""Load `hsmsync.yaml`: YAML with line numbers -> Manifest -> DesiredState.

Every problem is reported as `file:line: field: message`; no traceback reaches the user.
"""

from __future__ import annotations

import difflib
import hashlib
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hsmsync.core.compile import compile_manifest
from hsmsync.core.desired import DesiredState
from hsmsync.core.errors import ManifestError, Problem
from hsmsync.core.ids import GUID_PATTERN
from hsmsync.core.model import Manifest
from hsmsync.core.model_vault import POLICY_FORM_TAGS
from hsmsync.core.names import NAME_KEYED, collisions
from hsmsync.core.shard import parse_selection, select_desired, selection_texts, targeted_hsms
from hsmsync.manifest_dir import read_manifest_dir
from hsmsync.manifest_narrow import narrow_data
from hsmsync.manifest_yaml import (
    Positions,
    decode_manifest,
    parse_yaml,
    read_manifest_bytes,
    render_problems,
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class LoadedManifest:
    path: Path
    manifest: Manifest
    desired: DesiredState
    # Line numbers by document path, so later stages (lint, SARIF) can point at a line too.
    positions: Positions = field(default_factory=Positions)
    digest: str = ""  # sha256 of the file's bytes: what a saved plan is bound to
    targets: tuple[str, ...] = ()  # `--target`s it was narrowed to (see core/shard.py); () = all
    now: datetime | None = None  # the time `desired` is as of (expired grants left out); None: not judged


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
        at = tuple(p for p in error["loc"][:-1] if p not in POLICY_FORM_TAGS)
        close = difflib.get_close_matches(str(field), _fields_at(at), n=1)
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
        loc = tuple(p for p in error["loc"] if p not in ("[key]", *POLICY_FORM_TAGS))
        yield Problem(loc, _message(error), about_key="[key]" in error["loc"])


def _name_keyed(data: Any, pattern: tuple[str, ...], loc: Loc = ()) -> Iterator[tuple[Loc, dict[str, Any]]]:
    """The mappings at `pattern` ('*' is any key) in the plain document."""
    if not isinstance(data, dict):
        return
    if not pattern:
        yield loc, data
        return
    head, rest = pattern[0], pattern[1:]
    for key in data if head == "*" else [head] if head in data else []:
        yield from _name_keyed(data[key], rest, (*loc, key))


def _key_place(pos: Positions, loc: Loc) -> str:
    file = pos.key_file(loc)
    return f"{file}:{pos.key_line(loc)}" if file else f"line {pos.key_line(loc)}"


def _name_collisions(data: Any, pos: Positions) -> list[Problem]:
    """Names that differ only by case, whitespace or invisible characters: duplicates, both lines named."""
    problems = []
    for pattern in NAME_KEYED:
        for loc, mapping in _name_keyed(data, pattern):
            for name, earlier in collisions(mapping):
                problems.append(
                    Problem(
                        (*loc, name),
                        f"duplicate name {name!r}: the same name as {earlier!r} at "
                        f"{_key_place(pos, (*loc, earlier))} (names are compared ignoring case, "
                        "surrounding whitespace and invisible characters)",
                        about_key=True,
                    )
                )
    return problems


def parse_structure(text: str, path: Path, hsms: frozenset[str] | None = None) -> tuple[Manifest, Positions]:
    """YAML and model checks (no cross-references): what `resolve` needs before it edits the file.
    With `hsms`, team `data` entries on other declared HSMs are not read (see parse_yaml)."""
    pos = Positions()
    problems: list[Problem] = []
    data = parse_yaml(text, path, pos, problems, hsms)
    return _structure_of(data, problems, path, pos), pos


def _structure_of(data: Any, problems: list[Problem], path: Path, pos: Positions) -> Manifest:
    problems = problems + _name_collisions(data, pos)
    if problems:
        raise ManifestError(problems, render_problems(path, problems, pos))
    if not isinstance(data, dict):
        p = [Problem((), "the manifest must be a mapping with `version: 1` at the top")]
        raise ManifestError(p, render_problems(path, p, pos))
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = [replace(p, loc=pos.in_document(p.loc)) for p in _validation_problems(exc)]
        raise ManifestError(problems, render_problems(path, problems, pos)) from None


def _compiled(manifest: Manifest, path: Path, pos: Positions) -> LoadedManifest:
    try:
        desired = compile_manifest(manifest, pos.data_read)
    except ManifestError as exc:
        raise ManifestError(exc.problems, render_problems(path, exc.problems, pos)) from None
    return LoadedManifest(path=path, manifest=manifest, desired=desired, positions=pos)


def parse_manifest(text: str, path: Path, hsms: frozenset[str] | None = None) -> LoadedManifest:
    """Parse manifest text; raises ManifestError whose message names file, line and field. With
    `hsms`, only those HSMs' team `data` entries are read (a `--target` run; see parse_yaml)."""
    manifest, pos = parse_structure(text, path, hsms)
    return _compiled(manifest, path, pos)


def on_targets(loaded: LoadedManifest, texts: Sequence[str]) -> LoadedManifest:
    """Narrowed to the `--target`s named (none: unchanged)."""
    if not texts:
        return loaded
    selection = parse_selection(texts, loaded.desired)
    desired = select_desired(loaded.desired, selection)
    return replace(loaded, desired=desired, targets=tuple(selection_texts(selection)))


def load_manifest(path: Path, *, display: Path | None = None, targets: Sequence[str] = ()) -> LoadedManifest:
    """Read and parse a manifest file, or a directory of them (see manifest_dir); `display` is how
    errors name the file (as the user typed it). With `targets` (`--target`), narrowed to them:
    a file is read narrowed already, so a shard's time and memory follow its own HSMs' entries,
    not the fleet's (a team's `data` entry on another HSM is the other shard's to check)."""
    shown = display or path
    if path.is_dir():  # its files are read whole (to merge them), then narrowed the same way
        merged = read_manifest_dir(path, shown)
        pos = merged.positions
        data = narrow_data(merged.data, pos, targeted_hsms(targets)) if targets else merged.data
        loaded = _compiled(_structure_of(data, [], shown, pos), shown, pos)
        return on_targets(replace(loaded, digest=merged.digest), targets)
    raw = read_manifest_bytes(path, shown)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    hsms = targeted_hsms(targets) if targets else None
    return on_targets(
        replace(parse_manifest(decode_manifest(raw, shown), shown, hsms), digest=digest), targets
    )
