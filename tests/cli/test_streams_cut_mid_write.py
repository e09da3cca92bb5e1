"""A reader that goes away in the middle of a large write (`hsmsync matrix ... | head -c 10`):
the kernel accepts part of the write, and the rest must not be dropped silently with exit 0;
the command ends quietly with 141, as when the reader was gone before the first write."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli.test_streams import _env, _hsmsync


def _many_keys(contoso: Path, count: int) -> None:
    state = json.loads((contoso / "live-as-tutorial.json").read_text())
    state["hsms"]["contoso"]["keys"] = [f"key{i:04d}" for i in range(count)]
    (contoso / "big.json").write_text(json.dumps(state))


def _read_a_little_then_leave(*args: str, cwd: Path) -> tuple[int, str, bytes]:
    proc = subprocess.Popen(
        _hsmsync(*args), cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(10)  # the command is writing now (far more than a pipe holds)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err, first


def test_a_reader_leaving_mid_write_ends_the_command_with_141(contoso: Path) -> None:
    _many_keys(contoso, 400)
    args = ("matrix", "--state", "big.json", "--format", "csv")
    whole = subprocess.run(_hsmsync(*args), cwd=contoso, env=_env(), capture_output=True, timeout=120)
    assert whole.returncode == 0 and len(whole.stdout) > 4 * 65536  # more than any pipe buffers
    code, err, first = _read_a_little_then_leave(*args, cwd=contoso)
    assert first == b"hsm,place,"
    assert (code, err) == (141, "")
