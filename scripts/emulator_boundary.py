"""Issue 11 item 1, reproducibly: rewrite imports after the emulator and the shared file helpers moved.

The moves themselves (run once, with history):
    git mv src/hsmsync/emulator src/hsmsync_emulator
    git mv src/hsmsync/files.py src/hsmsync_files/textfiles.py
    git mv src/hsmsync/backends/statefile.py src/hsmsync_files/statefile.py
This script only rewrites references (imports, paths, pyproject's per-file settings) and may be
re-run after a rebase (it is idempotent). What it cannot know: import-linter's ignore_imports names
the module of the `hsmsync emulator` command (`hsmsync.cli`, or `hsmsync.cli.commands.emulator`
once the CLI is a package) and must match it; lint-imports says so when it does not.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REWRITES = [
    (re.compile(r"\bhsmsync\.emulator\b"), "hsmsync_emulator"),
    (re.compile(r"\bhsmsync\.backends\.statefile\b"), "hsmsync_files.statefile"),
    (re.compile(r"\bhsmsync\.files\b"), "hsmsync_files.textfiles"),
    (re.compile(r"src/hsmsync/emulator\b"), "src/hsmsync_emulator"),
    (re.compile(r"src/hsmsync/backends/statefile\.py"), "src/hsmsync_files/statefile.py"),
    (re.compile(r"src/hsmsync/files\.py"), "src/hsmsync_files/textfiles.py"),
]
KEEP = {Path("tests/emulator/test_boundary.py")}  # checks that the old module name is gone
SUFFIXES = {".py", ".sh", ".md", ".toml", ".cfg", ".txt", ""}


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout
    return [Path(p) for p in out.splitlines() if not p.startswith("scripts/") and Path(p) not in KEEP]


def main() -> None:
    for path in tracked_files():
        if path.suffix not in SUFFIXES or not path.is_file():
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
