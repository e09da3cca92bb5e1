"""SIGTERM (a cancelled CI job) stops a live apply like Ctrl-C: the report is printed."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.reliability.fleet import Fleet
from tests.reliability.test_fleet_reliability import _hsmsync, _start, _writes

SLOW_FLEET = Fleet(hsms=2, keys=4, keyed=2, per_key=3, wide=4, missing=12, stray=0)


def test_sigterm_mid_apply_prints_the_report(tmp_path: Path) -> None:
    with _start(tmp_path, SLOW_FLEET, "throttle=0") as emu:
        proc = _hsmsync(tmp_path, "apply", "--auto-approve", rate="5")  # 5 writes per second per HSM
        deadline = time.monotonic() + 60
        while _writes(emu) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "apply finished before it could be terminated: " + proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Apply interrupted:" in out and "[not attempted]" in out and "[applied]" in out
    assert "Traceback" not in err
