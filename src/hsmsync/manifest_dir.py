"""A manifest split over a directory: one file per team, each owned through CODEOWNERS.

`-f DIR` reads every `*.yaml` / `*.yml` file directly in DIR (not in subdirectories), in name
order, and merges them into one manifest:
- the named sections (`principals`, `roles`, `arm_roles`, `hsms`, `vaults`, `teams`) are shared:
  a name declared in one file can be used in every other; the same name in two files is an error
  naming both files and lines;
- the settings (`version`, `management`, `lint`) apply to the whole manifest: each is given in one
  file, or in several with exactly the same value (so a team file may carry `version: 1`).
Every error names the file and line it is about. A saved plan is bound to every file: the digest
covers each file's name and bytes, so editing, adding or removing any file refuses the plan.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsmsync.core.errors import ManifestError, Problem
from hsmsync.manifest_yaml import Positions, decode_manifest, parse_yaml, read_manifest_bytes, render_problems

SUFFIXES = (".yaml", ".yml")
SETTINGS = ("version", "management", "lint")


@dataclass(frozen=True, slots=True)
class MergedManifest:
    data: dict[str, Any]
    positions: Positions
    digest: str  # over the sorted (file name, sha256 of its bytes) pairs


def manifest_files(directory: Path, display: Path) -> list[Path]:
    try:
        files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())
    except OSError as exc:
        raise ManifestError([], f"{display}: cannot read manifest directory: {exc.strerror or exc}") from None
    if not files:
        raise ManifestError([], f"{display}: no manifest files (*.yaml, *.yml) in this directory")
    return files


def digest_of(named_bytes: list[tuple[str, bytes]]) -> str:
    """One digest for all files: any edit, added or removed file changes it."""
    lines = "".join(f"{name}\t{hashlib.sha256(raw).hexdigest()}\n" for name, raw in sorted(named_bytes))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


class _Merger:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.pos = Positions()
        self.errors: list[str] = []
        self.problems: list[Problem] = []

    def _place(self, loc: tuple[str, ...]) -> str:
        return f"{self.pos.key_file(loc)}:{self.pos.key_line(loc)}"

    def _claim(self, shown: str, file_pos: Positions, loc: tuple[str, ...]) -> None:
        """Copy the positions at and under `loc` from one file, marked with that file."""
        for sub, line in file_pos.lines.items():
            if sub[: len(loc)] == loc:
                self.pos.lines[sub] = line
                self.pos.files[sub] = shown

    def _conflict(self, shown: str, file_pos: Positions, loc: tuple[str, ...], setting: bool) -> None:
        line = file_pos.key_line(loc) or file_pos.line_of(loc)
        if setting:
            message = (
                f"'{loc[0]}' is also given at {self._place(loc)} with another value: it applies to the "
                "whole manifest, so give it in one file, or the same in each"
            )
        else:
            message = f"{loc[0]} '{loc[1]}' is also declared at {self._place(loc)}"
        self.problems.append(Problem(loc, message))
        self.errors.append(f"{shown}:{line}: {'.'.join(loc)}: {message}")

    def add(self, shown: str, document: dict[str, Any], file_pos: Positions) -> None:
        for key, value in document.items():
            loc = (key,)
            if key not in self.data:
                self.data[key] = dict(value) if isinstance(value, dict) and key not in SETTINGS else value
                self._claim(shown, file_pos, loc)
            elif key in SETTINGS or not isinstance(value, dict) or not isinstance(self.data[key], dict):
                if value != self.data[key]:
                    self._conflict(shown, file_pos, loc, setting=True)
            else:
                for name, item in value.items():
                    if name in self.data[key]:
                        self._conflict(shown, file_pos, (key, name), setting=False)
                        continue
                    self.data[key][name] = item
                    self._claim(shown, file_pos, (key, name))


def read_manifest_dir(directory: Path, display: Path) -> MergedManifest:
    """The merged plain document with the file and line of every value; raises ManifestError
    listing every file's problems."""
    merger = _Merger()
    named: list[tuple[str, bytes]] = []
    for file in manifest_files(directory, display):
        shown = str(display / file.name)
        raw = read_manifest_bytes(file, shown)
        named.append((file.name, raw))
        try:
            _add_file(merger, shown, raw)
        except ManifestError as exc:
            merger.errors.append(str(exc))
            merger.problems += exc.problems
    if merger.errors:
        raise ManifestError(merger.problems, "\n".join(merger.errors))
    return MergedManifest(merger.data, merger.pos, digest_of(named))


def _add_file(merger: _Merger, shown: str, raw: bytes) -> None:
    file_pos = Positions()
    problems: list[Problem] = []
    data = parse_yaml(decode_manifest(raw, shown), shown, file_pos, problems)
    if problems:
        raise ManifestError(problems, render_problems(Path(shown), problems, file_pos))
    if data is None:
        return  # an empty team file declares nothing
    if not isinstance(data, dict):
        message = "a manifest file must be a mapping of sections (principals:, teams:, ...)"
        raise ManifestError([Problem((), message)], f"{shown}:1: (document): {message}")
    merger.add(shown, data, file_pos)
