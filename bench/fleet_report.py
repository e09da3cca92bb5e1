"""The fleet benchmark's report: the machine, each run against its floor, CPU per call, the shard rule."""

from __future__ import annotations

import os
import platform
from typing import Any

Row = tuple[str, str]
# Of one core, what a Python process can use while staying on its schedule: its threads share one
# interpreter lock, and paced calls must be sent on time, so the process must not be saturated.
USABLE_CORE = 0.6


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def machine_rows(load_before: tuple[float, float, float]) -> list[Row]:
    return [
        ("machine", f"{os.cpu_count()} cores ({_cpu_model()}), {_memory_gb():.1f} GB, "
                    f"{platform.system()} {platform.release()}, Python {platform.python_version()}"),
        ("load average before", " ".join(f"{x:.1f}" for x in load_before)),
    ]


def _share(cpu: float, wall: float) -> str:
    """CPU seconds over a wall-time span as a share of the whole machine."""
    cores = os.cpu_count() or 1
    return f"{cpu / wall / cores:.0%} of the machine" if wall > 0 else "-"


def _per_call(cpu: float, calls: int) -> str:
    return f"{cpu / calls * 1000:.2f} ms" if calls else "-"


def run_rows(run: dict[str, Any], rate: float, assignments: int, baselines: dict[str, Any] | None) -> list[Row]:
    plan, apply, final = run["plan"], run["apply"], run["final"]
    plan_calls, apply_calls = run["plan_calls"], run["apply_calls"]
    floor_plan, floor_apply = plan_calls["max_rbac"] / rate, apply_calls["max_rbac"] / rate
    plan_wall = plan["discovery"] + plan["planner"]
    grown = final["maxrss_mb"] - plan["rss_before_mb"]
    rows = [
        ("changes planned / applied", f"{plan['changes']:,} / {apply['applied']:,} "
                                      f"(+{apply['already']} already done), ok={apply['ok']}"),
        ("re-plan after apply", f"{final['replan_changes']} changes"),
        ("API calls: plan", f"{plan_calls['calls']:,} ({plan_calls['rbac_calls']:,} RBAC; "
                            f"largest per HSM: {plan_calls['max_rbac']})"),
        ("API calls: apply", f"{apply_calls['calls']:,} ({apply_calls['rbac_calls']:,} RBAC; "
                             f"largest per HSM: {apply_calls['max_rbac']})"),
        ("plan wall / floor", f"{plan_wall:.1f}s / {floor_plan:.1f}s = {plan_wall / floor_plan:.2f}x "
                              f"(planner alone {plan['planner']:.2f}s)"),
        ("apply wall / floor", f"{apply['apply']:.1f}s / {floor_apply:.1f}s = "
                               f"{apply['apply'] / floor_apply:.2f}x"),
        ("connections opened (plan, apply)", f"{plan_calls['new_connections']:,}, "
                                             f"{apply_calls['new_connections']:,} (kept alive and reused)"),
        ("429s provoked (plan, apply)", f"{plan_calls['throttled']}, {apply_calls['throttled']}"),
        ("peak RSS of hsmsync", f"{final['maxrss_mb']:.0f} MB ({plan['rss_before_mb']:.0f} MB before "
                                f"discovery; {grown * 2**20 / assignments:,.0f} bytes per assignment)"),
        ("hsmsync CPU: discovery", f"{plan['discovery_cpu']:.1f} s = "
                                   f"{_per_call(plan['discovery_cpu'], plan_calls['rbac_calls'])} per RBAC call, "
                                   f"{_share(plan['discovery_cpu'], plan['discovery'])}"),
        ("hsmsync GC in discovery", f"{plan['gc_discovery']:.2f} s ({plan['gc_full']} full collections)"),
        ("hsmsync CPU: planner", f"{plan['planner_cpu']:.2f} s"),
        ("hsmsync CPU: apply", f"{apply['apply_cpu']:.1f} s = "
                               f"{_per_call(apply['apply_cpu'], apply_calls['rbac_calls'])} per RBAC call, "
                               f"{_share(apply['apply_cpu'], apply['apply'])}"),
        ("emulator CPU: plan", f"{plan_calls['emulator_cpu']:.1f} s = "
                               f"{_per_call(plan_calls['emulator_cpu'], plan_calls['calls'])} per call, "
                               f"{_share(plan_calls['emulator_cpu'], plan_wall)}"),
        ("emulator CPU: apply", f"{apply_calls['emulator_cpu']:.1f} s = "
                                f"{_per_call(apply_calls['emulator_cpu'], apply_calls['calls'])} per call, "
                                f"{_share(apply_calls['emulator_cpu'], apply['apply'])}"),
    ]
    if baselines is not None:
        per_get, get_429 = baselines["per_get"]
        per_list, list_429 = baselines["per_list"]
        rows += [
            ("per-resource (GET each, serial)",
             f"{per_get * 1000:.0f} ms/call measured on {baselines['gets']} GETs ({get_429} x 429) -> "
             f"{per_get * assignments / 60:.1f} min for {assignments:,} assignments = "
             f"{per_get * assignments / plan_wall:.0f}x hsmsync's plan"),
            ("serial az-style (lists, serial)",
             f"{per_list * 1000:.0f} ms/call measured on {baselines['lists']} lists ({list_429} x 429) -> "
             f"{per_list * plan_calls['calls'] / 60:.1f} min for hsmsync's {plan_calls['calls']:,} calls = "
             f"{per_list * plan_calls['calls'] / plan_wall:.0f}x hsmsync's plan"),
        ]
    return rows


Run = tuple[int, list[str], dict[str, Any]]  # (shard number, its HSMs, its figures)


def shard_rows(runs: list[Run], rate: float) -> list[Row]:
    rows = []
    for i, group, run in runs:
        plan, apply, final = run["plan"], run["apply"], run["final"]
        plan_calls, apply_calls = run["plan_calls"], run["apply_calls"]
        plan_wall = plan["discovery"] + plan["planner"]
        # The floor of this shard's own HSMs (an uneven last shard has fewer, not fewer calls each).
        floor_plan = max(plan_calls["rbac"].get(h, 0) for h in group) / rate
        floor_apply = max(apply_calls["rbac"].get(h, 0) for h in group) / rate
        outside = sum(n for c in (plan_calls, apply_calls) for h, n in c["rbac"].items() if h not in group)
        rows.append((
            f"shard {i} ({group[0]}..{group[-1]}, {len(group)} HSMs)",
            f"plan {plan_wall:.1f}s / {floor_plan:.1f}s = {plan_wall / floor_plan:.2f}x; "
            f"apply {apply['apply']:.1f}s / {floor_apply:.1f}s = {apply['apply'] / floor_apply:.2f}x; "
            f"{plan['changes']:,} changes, ok={apply['ok']}, re-plan {final['replan_changes']}; "
            f"429s {plan_calls['throttled']}, {apply_calls['throttled']}; "
            f"RSS {final['maxrss_mb']:.0f} MB ({plan['rss_before_mb']:.0f} MB before discovery, "
            f"{plan['maxrss_plan_mb']:.0f} MB after planning; manifest "
            f"read in {plan['load_cpu']:.1f} CPU s); calls to other shards' HSMs {outside}; "
            f"hsmsync CPU {plan['discovery_cpu']:.1f} s (discovery, GC {plan['gc_discovery']:.2f} s), "
            f"{apply['apply_cpu']:.1f} s (apply, GC {apply['gc_apply']:.2f} s); "
            f"CPU/RBAC call {_per_call(plan['discovery_cpu'], plan_calls['rbac_calls'])} (discovery), "
            f"{_per_call(apply['apply_cpu'], apply_calls['rbac_calls'])} (apply); emulator "
            f"{_share(plan_calls['emulator_cpu'], plan_wall)}",
        ))
    return rows


def shard_rule_rows(runs: list[Run], rate: float) -> list[Row]:
    """The largest shard one hsmsync process keeps on the floor, from the measured CPU per call."""
    cpu = sum(r["plan"]["discovery_cpu"] + r["apply"]["apply_cpu"] for _, _, r in runs)
    calls = sum(r["plan_calls"]["rbac_calls"] + r["apply_calls"]["rbac_calls"] for _, _, r in runs)
    if not calls:
        return []
    per_call = cpu / calls
    largest = int(USABLE_CORE / (rate * per_call))
    return [(
        "shard size rule",
        f"{per_call * 1000:.2f} ms CPU per RBAC call x {rate:g} calls/s per HSM = "
        f"{rate * per_call:.1%} of a core per HSM: at most {USABLE_CORE:.0%} / that = "
        f"{largest} HSMs per hsmsync process (job)",
    )]


def print_rows(rows: list[Row]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}", flush=True)
