"""Headless Debian chromium, driven from the command line (`--dump-dom`, `--screenshot`): the
lightest dependable way to load a page in a real browser (no driver, no extra package).

`make test` installs chromium (the Makefile's /usr/bin/chromium target); a missing browser
fails the test that needs it, naming what is missing, never skips it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

TIMEOUT = 180  # seconds: a cold start on a busy two-core machine


def chromium() -> Path:
    """/usr/bin/chromium (or $HSMSYNC_TEST_CHROMIUM); fails the test when it is not there."""
    path = Path(os.environ.get("HSMSYNC_TEST_CHROMIUM", "/usr/bin/chromium"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{path} is missing: the access-matrix browser test needs Debian's chromium "
            "(`make test` installs it: apt-get install -y chromium)",
            pytrace=False,
        )
    return path


def run_headless(page: Path, *flags: str) -> str:
    """Load `page` (a local file) in a fresh headless chromium profile; its standard output."""
    with tempfile.TemporaryDirectory(prefix="hsmsync-chromium-") as profile:
        argv = [
            str(chromium()),
            "--headless",
            "--no-sandbox",  # CI runs as root, where chromium's sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *flags,
            page.resolve().as_uri(),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout
