"""CI-facing output: manifest paths relative to the repository root (SARIF), validation errors
located by file and line (SARIF, annotations, `validate --format json`), and GitHub Actions
workflow-command annotations."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hsmsync.core.errors import ManifestError
from hsmsync.environment import Environment
from hsmsync.manifest import load_manifest
from hsmsync.render.contract import document

# Every located error reads `file:line: field: message` (manifest.render_problems).
_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>.+)$")
_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def repo_root(manifest: Path, given: Path | None) -> Path:
    """`--sarif-root`, else the git top-level of the manifest's directory, else that directory."""
    if given is not None:
        return given.resolve()
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=manifest.resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return Path(out.stdout.strip()).resolve()
    except (OSError, subprocess.SubprocessError):
        return manifest.resolve().parent


def relative_uri(manifest: Path, root: Path) -> str:
    path = manifest.resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # outside the root: an absolute URI still locates it
        return path.as_uri()


def located_errors(exc: ManifestError, display: str) -> list[tuple[str, int, str]]:
    """(file, line, message) for each line of a manifest error; unlocated lines at line 1."""
    out = []
    for text in str(exc).splitlines():
        if not text.strip():
            continue
        m = _LOCATED.match(text)
        out.append((m["file"], int(m["line"]), m["message"]) if m else (display, 1, text))
    return out


def in_github_actions(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS", "").lower() == "true"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_annotations(items: Sequence[tuple[str, str, int, str]]) -> str:
    """`::error file=…,line=…::message` lines for (level, file, line, message); an error without
    a file (e.g. a manifest that cannot be read) is annotated without one."""
    out = []
    for level, file, line, message in items:
        where = f" file={_escape_property(file)},line={line}" if file else ""
        out.append(f"::{_LEVEL[level]}{where}::{_escape_data(message)}\n")
    return "".join(out)


def manifest_annotations(exc: ManifestError, env: Environment) -> str:
    """`::error` lines for a manifest's errors when running in GitHub Actions (else nothing), each
    naming its file relative to the repository root, where GitHub looks for it."""
    if not in_github_actions(env.environ):
        return ""
    items = []
    for file, line, message in located_errors(exc, ""):
        path = env.cwd / file if file else None
        shown = relative_uri(path, repo_root(path, None)) if path is not None else ""
        items.append(("error", shown, line, message))
    return workflow_annotations(items)


def validate_json(paths: Sequence[Path], env: Environment) -> bool:
    """`validate --format json`: each manifest valid (with its counts) or its located errors;
    whether every one is valid."""
    files: list[dict[str, Any]] = []
    for path in paths:
        try:
            d = load_manifest(path if path.is_absolute() else env.cwd / path, display=path).desired
        except ManifestError as exc:
            env.stderr.write(manifest_annotations(exc, env))
            located = located_errors(exc, str(path))
            errors = [{"file": f, "line": line, "message": m} for f, line, m in located]
            files.append({"file": str(path), "valid": False, "errors": errors})
            continue
        counts = {"principals": len(d.principals), "hsms": len(d.hsms), "assignments": len(d.assignments)}
        files.append({"file": str(path), "valid": True, **counts})
    valid = all(f["valid"] for f in files)
    env.stdout.write(document("validate", {"valid": valid, "files": files}))
    return valid
