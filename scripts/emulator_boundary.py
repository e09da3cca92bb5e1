"""Issue 11 item 1, reproducibly: rewrite imports after the emulator and the shared file helpers moved.

The moves themselves (run once, with history):
    git mv src/hsmsync/emulator src/hsmsync_emulator
    git mv src/hsmsync/files.py src/hsmsync_files/textfiles.py
    git mv src/hsmsync/backends/statefile.py src/hsmsync_files/statefile.py
This script only rewrites references and may be re-run after a rebase (it is idempotent).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REWRITES = [
    (re.compile(r"\bhsmsync\.emulator\b"), "hsmsync_emulator"),
    (re.compile(r"\bhsmsync\.backends\.statefile\b"), "hsmsync_files.statefile"),
    (re.compile(r"\bhsmsync\.files\b"), "hsmsync_files.textfiles"),
    (re.compile(r"src/hsmsync/emulator/"), "src/hsmsync_emulator/"),
]
SUFFIXES = {".py", ".sh", ".md", ".toml", ".cfg", ".txt", ""}


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout
    return [Path(p) for p in out.splitlines() if not p.startswith("scripts/")]


def main() -> None:
    for path in tracked_files():
        if path.suffix not in SUFFIXES or not path.is_file() or path.name == "pyproject.toml":
            continue
        text = path.read_text(encoding="utf-8")
        new = text
        for pattern, replacement in REWRITES:
            new = pattern.sub(replacement, new)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path}")
    # The moved packages sort differently (hsmsync_emulator, hsmsync_files after hsmsync).
    ruff = [".venv/bin/ruff", "check", "--fix", "--select", "I"]
    subprocess.run([*ruff, "src", "tests", "bench"], check=False)


if __name__ == "__main__":
    main()
