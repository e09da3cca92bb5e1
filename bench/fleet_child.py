"""The hsmsync side of the fleet benchmark: one process, as a CI job runs it (plan, then apply).

    python bench/fleet_child.py WORKDIR [--target hsm:NAME ...] [--profile FILE]

Discovers and plans, prints one JSON line, waits for a line on stdin, applies, prints one JSON
line, waits, re-plans, prints one JSON line. Each line carries the phase's wall time and this
process's CPU time (user + sys, all threads); the last its peak RSS. With `--profile`, every
thread runs under cProfile (in CPU time): the merged profile of discovery + planning is written to
FILE, that of the apply to FILE.apply.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

class _GcClock:
    """Seconds spent in the cyclic garbage collector (all generations), and how many full ones."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.full += info["generation"] == 2


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    """The current resident set (Linux), in MB."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    cpu0, wall0 = _cpu(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - wall0, _cpu() - cpu0


def _say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--target", action="append", default=[])
    ap.add_argument("--profile", type=Path)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from profiling import dump, profile_threads, restart

    main_profile = profile_threads() if args.profile else None

    from hsmsync.applier import ChangeStatus, apply_plan
    from hsmsync.backends.azure import make_azure_backend
    from hsmsync.backends.registry import read_request_for
    from hsmsync.core.planner import plan_changes
    from hsmsync.manifest import load_manifest

    loaded, _, load_cpu = _timed(lambda: load_manifest(args.workdir / "hsmsync.yaml", targets=args.target))
    desired = loaded.desired
    del loaded  # a CI job keeps the desired state, not the parsed document and its positions
    request = read_request_for(desired)
    rss_before = _rss_mb()
    gc_clock = _GcClock()
    with make_azure_backend(endpoints=args.workdir / "endpoints.json", environ=dict(os.environ)) as backend:
        if main_profile is not None:
            main_profile.enable()
        live, discovery, discovery_cpu = _timed(lambda: backend.read_state(request))
        gc_discovery, gc_full = gc_clock.seconds, gc_clock.full
        plan, planner, planner_cpu = _timed(lambda: plan_changes(desired, live))
        if main_profile is not None:
            main_profile.disable()
            dump(args.profile)
        del live
        _say(discovery=discovery, discovery_cpu=discovery_cpu, planner=planner, planner_cpu=planner_cpu,
             changes=len(plan.changes), rss_before_mb=rss_before, load_cpu=load_cpu, gc_discovery=gc_discovery, gc_full=gc_full,
             maxrss_plan_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        sys.stdin.readline()
        apply_profile = restart() if args.profile else None
        if apply_profile is not None:
            apply_profile.enable()
        gc_before_apply = gc_clock.seconds
        result, applied, apply_cpu = _timed(lambda: apply_plan(plan, backend, workers=backend.workers))
        if apply_profile is not None:
            apply_profile.disable()
            dump(Path(f"{args.profile}.apply"))
        _say(apply=applied, apply_cpu=apply_cpu, gc_apply=gc_clock.seconds - gc_before_apply, ok=result.ok, applied=result.count(ChangeStatus.APPLIED),
             already=result.count(ChangeStatus.ALREADY_DONE))
        sys.stdin.readline()
        again, replan, replan_cpu = _timed(lambda: plan_changes(desired, backend.read_state(request)))
        _say(replan=replan, replan_cpu=replan_cpu, replan_changes=len(again.changes),
             maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
