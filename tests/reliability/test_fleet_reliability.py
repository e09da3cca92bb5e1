"""Fleet reliability against the emulator: faults, SIGKILL mid-apply, concurrent applies, secrets."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hsmsync.applier import apply_plan
from hsmsync.backends.azure import make_azure_backend
from hsmsync.backends.registry import read_request_for
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import SignInApplication
from hsmsync.manifest import load_manifest
from hsmsync_emulator import Emulator, parse_faults, start_emulator
from tests.conftest import run_cli
from tests.reliability.fleet import RUNNER, Fleet, natural_keys
from tests.signin import add_sign_in, sha256, sign_in_as, with_sign_in

ROOT = Path(__file__).resolve().parents[2]
FAST = {"HSMSYNC_RETRY_BACKOFF": "0.01", "HSMSYNC_RETRY_TOTAL": "12", "HSMSYNC_ARM_RATE": "1000"}


def _start(tmp_path: Path, fleet: Fleet, faults: str) -> Emulator:
    _, state = fleet.write(tmp_path)
    emu = start_emulator(state, faults=parse_faults(faults))
    emu.write_endpoints(tmp_path / "endpoints.json")
    sign_in_as(emu, RUNNER)
    return emu


def _assert_converged(fleet: Fleet, before: LiveState, after: LiveState) -> None:
    keys = natural_keys(after)
    duplicates = [k for k, n in Counter(keys).items() if n > 1]
    assert not duplicates
    have = set(keys)
    for i, hsm in enumerate(fleet.hsm_names()):
        for scope, role, pid in fleet.declared():
            assert (hsm, scope, role, pid) in have, f"declared assignment missing on {hsm}"
        strays = {(hsm, s, r, p) for s, r, p in fleet.strays()}
        assert (strays & have) == (set() if fleet.prunes(i) else strays)
    # Nothing else appeared; only strays of pruning HSMs went away.
    assert len(have) == len(fleet.declared()) * fleet.hsms + sum(
        0 if fleet.prunes(i) else fleet.stray for i in range(fleet.hsms)
    )
    assert before.hsms.keys() == after.hsms.keys()


def _replan(tmp_path: Path, environ: dict[str, str]) -> int:
    desired = load_manifest(tmp_path / "hsmsync.yaml").desired
    with make_azure_backend(endpoints=tmp_path / "endpoints.json", environ=with_sign_in(environ)) as backend:
        return len(plan_changes(desired, backend.read_state(read_request_for(desired))).changes)


def test_hundreds_of_changes_converge_in_one_run_under_20_percent_faults(tmp_path: Path) -> None:
    fleet = Fleet(hsms=4, keys=8, keyed=4, per_key=5, missing=60, stray=20, prune_every=2)
    env = {**FAST, "HSMSYNC_HSM_RATE": "1000"}
    with _start(tmp_path, fleet, "429=0.08,500=0.04,503=0.03,drop=0.05,seed=11,throttle=0") as emu:
        before = emu.state()
        desired = load_manifest(tmp_path / "hsmsync.yaml").desired
        with make_azure_backend(endpoints=tmp_path / "endpoints.json", environ=with_sign_in(env)) as backend:
            plan = plan_changes(desired, backend.read_state(read_request_for(desired)))
            assert len(plan.changes) == 4 * 60 + 2 * 20
            result = apply_plan(plan, backend, workers=backend.workers)
        assert result.ok, [r.error for r in result.results if r.error][:3]
        statuses = Counter(status for _, _, status in emu.request_log)
        assert statuses[429] and statuses[500] and statuses[0], statuses  # every fault fired
        assert _replan(tmp_path, env) == 0
        _assert_converged(fleet, before, emu.state())


def _hsmsync(tmp_path: Path, *args: str, rate: str = "40") -> subprocess.Popen[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HSMSYNC_", "AZURE_"))},
        **with_sign_in(FAST),
        "HSMSYNC_HSM_RATE": rate,
        "CI": "true",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "hsmsync", *args, "--live", "--endpoints", "endpoints.json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _writes(emu: Emulator) -> int:
    return sum(
        1 for method, _, status in list(emu.request_log) if method in ("PUT", "DELETE") and status < 300
    )


KILL_FLEET = Fleet(hsms=2, keys=6, keyed=3, per_key=4, wide=10, missing=30, stray=10, prune_every=1)


@pytest.mark.parametrize("after_writes", [1, 25, 60])
def test_killed_mid_apply_then_rerun_converges(tmp_path: Path, after_writes: int) -> None:
    with _start(tmp_path, KILL_FLEET, "throttle=0") as emu:
        before = emu.state()
        declared_before = {k for k in natural_keys(before)} - {
            (h, s, r, p) for h in KILL_FLEET.hsm_names() for s, r, p in KILL_FLEET.strays()
        }
        proc = _hsmsync(tmp_path, "apply", "--auto-approve")
        deadline = time.monotonic() + 60
        while _writes(emu) < after_writes and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert proc.poll() is None, "apply finished before it could be killed: " + proc.communicate()[1]
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        killed_at = _writes(emu)
        assert after_writes <= killed_at < 80
        # Make before break: nothing the manifest keeps has gone, whenever the kill came.
        assert declared_before <= set(natural_keys(emu.state()))
        rerun = _hsmsync(tmp_path, "apply", "--auto-approve")
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, out + err
        assert _replan(tmp_path, {**FAST, "HSMSYNC_HSM_RATE": "1000"}) == 0
        _assert_converged(KILL_FLEET, before, emu.state())


def test_two_applies_at_once_end_in_the_same_correct_state(tmp_path: Path) -> None:
    with _start(tmp_path, KILL_FLEET, "throttle=0") as emu:
        before = emu.state()
        procs = [_hsmsync(tmp_path, "apply", "--auto-approve") for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, out + err
            assert "error" not in err.lower()
        assert _replan(tmp_path, {**FAST, "HSMSYNC_HSM_RATE": "1000"}) == 0
        _assert_converged(KILL_FLEET, before, emu.state())


SECRET = "s3cr3t-Value-Never-Printed~42"


def test_no_token_secret_or_certificate_in_output_or_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = Fleet(hsms=2, keys=3, keyed=1, per_key=2, wide=3, missing=3, stray=2)
    client_id = "11111111-2222-4333-8444-555555555555"
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("AZURE_CLIENT_ID", client_id)
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    with _start(tmp_path, fleet, "throttle=0,429=0.1,seed=5") as emu:
        # hsmsync really signs in with this secret (client-secret), and its debug logs run throughout.
        app = SignInApplication(client_id=client_id, object_id=RUNNER, client_secret_sha256=(sha256(SECRET),))
        add_sign_in(emu, applications=[app])
        monkeypatch.setenv("AZURE_TENANT_ID", emu.tenant_id)
        environ = {**dict(os.environ), **FAST, "HSMSYNC_HSM_RATE": "1000", "HSMSYNC_AUTH": "auto"}
        for args in (("plan", "-v", "-v"), ("apply", "--auto-approve", "-vv"), ("drift", "-v")):
            result = run_cli(*args, "--live", "--endpoints", "endpoints.json", cwd=tmp_path, environ=environ)
            assert result.exit_code in (0, 2), result.stderr
            outputs += [result.stdout, result.stderr]
    assert any("hsmsync.api" in text and "-> 20" in text for text in outputs)  # -v logged the calls
    records = [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    for text in [*outputs, *records]:
        assert "eyJ" not in text
        assert SECRET not in text
        assert "BEGIN" not in text


def test_progress_lines_in_ci_and_quiet(tmp_path: Path) -> None:
    fleet = Fleet(hsms=2, keys=3, keyed=1, per_key=2, wide=3, missing=3, stray=2)
    environ: dict[str, Any] = {**FAST, "HSMSYNC_HSM_RATE": "1000", "CI": "true"}
    with _start(tmp_path, fleet, "throttle=0"):
        live = ("--live", "--endpoints", "endpoints.json")
        applied = run_cli("apply", "--auto-approve", *live, cwd=tmp_path, environ=environ)
        assert applied.exit_code == 0, applied.stderr
        assert "hsmsync: discovery:" in applied.stderr
        assert "hsmsync: apply: 10 changes" in applied.stderr
        quiet = run_cli("plan", "-q", *live, cwd=tmp_path, environ=environ)
        assert quiet.exit_code == 0 and quiet.stderr == ""
