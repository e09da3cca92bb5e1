"""Fleet benchmark: hsmsync against the local emulator, at the service's rate, with latency.

    .venv/bin/python bench/fleet.py [--hsms 20] [--keys 200] [--keyed 100] [--changes 60]
        [--latency 20] [--rate 5] [--sample 60] [--emulators 2] [--shards N] [--profile FILE]

The emulator throttles RBAC calls at `--rate` per HSM (token bucket, as the service) and adds
`--latency` ms to every call; it runs in `--emulators` processes of its own (bench/fleet_emulators.py),
hsmsync in another (bench/fleet_child.py), so each one's CPU time and memory are its own. hsmsync
discovers and plans, then applies, then re-plans. Reported: API calls, wall time against the floor
(the largest per-HSM RBAC call count / rate, all HSMs in parallel), 429s provoked, peak RSS, and the
CPU time (user + sys) of hsmsync and of the emulator per RBAC call and as a share of the machine.

`--shards N` splits the HSMs into N groups and runs one hsmsync process per group, one after
another, each with `--target hsm:NAME` for its HSMs as a CI matrix job would, each measured
against its own floor: the largest RBAC call count of one of its own HSMs (the emulator's counts
are cleared before each shard starts). `--shard K` runs shard K alone (to profile it: `--profile`).

Without `--shards`, two baselines run in the benchmark's own process against the same emulator,
each on a measured sample of `--sample` calls on one HSM, scaled to the fleet's call count: the
per-resource way (one GET per managed assignment, serially, as a Terraform refresh does) and the
serial az-style way (the same lists as hsmsync, one at a time, no client pacing, retrying 429s as
azure-core does).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fleet_emulators import EmulatorParts  # noqa: E402
from fleet_report import machine_rows, print_rows, run_rows, shard_rule_rows, shard_rows  # noqa: E402

from tests.reliability.fleet import RUNNER, Fleet  # noqa: E402

CHILD = ROOT / "bench" / "fleet_child.py"


class HsmsyncRun:
    """One hsmsync process (a CI job): plan, apply, re-plan, with the emulator's view of each."""

    def __init__(self, emulators: EmulatorParts, workdir: Path, rate: float, targets: list[str],
                 profile: Path | None) -> None:
        self.emulators = emulators
        self.profile = profile
        # Each run's figures are its own: not the previous shard's re-plan (its calls, 429s).
        emulators.clear()
        command = [sys.executable, str(CHILD), str(workdir)]
        command += [f"--target={t}" for t in targets]
        command += [f"--profile={profile}"] if profile else []
        env = {"HSMSYNC_HSM_RATE": f"{rate:g}", "PATH": "/usr/bin:/bin", "HOME": str(workdir),
               **emulators.sign_in.environ()}
        if "PYTHONPATH" in os.environ:  # to measure another checkout's code the same way
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def phase(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Wait for the child's next report; (the child's report, the emulator's stats of the phase)."""
        import json

        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"hsmsync child failed (exit {self.proc.wait()})")
        stats = self.emulators.stats()
        return json.loads(line), stats

    def go(self) -> None:
        time.sleep(1.5)  # let the emulator's buckets refill after the previous phase
        self.emulators.clear()
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def run(self) -> dict[str, Any]:
        before = self.emulators.stats()
        cpu0, self.connections0 = before["cpu"], before["connections"]
        plan, plan_stats = self.phase()
        if self.profile is not None:
            self.emulators.dump_profiles(self.profile)
        cpu1 = plan_stats["cpu"]
        self.go()
        apply, apply_stats = self.phase()
        cpu2 = apply_stats["cpu"]
        self.go()
        final, _ = self.phase()
        self.proc.wait()
        plan_stats["emulator_cpu"] = cpu1 - cpu0
        apply_stats["emulator_cpu"] = cpu2 - cpu1  # it idles between phases (1.5 s refill)
        plan_stats["new_connections"] = plan_stats["connections"] - self.connections0
        apply_stats["new_connections"] = apply_stats["connections"] - plan_stats["connections"]
        return {"plan": plan, "plan_calls": plan_stats, "apply": apply, "apply_calls": apply_stats,
                "final": final}


def _baselines(emulators: EmulatorParts, sample: int, tenant: str) -> dict[str, Any]:
    """Per-resource GETs and serial lists on hsm00, unpaced, measured on `sample` calls each."""
    from azure.keyvault.administration import KeyVaultAccessControlClient

    from hsmsync_emulator.tokens import TokenAuthority
    from tests.signin import EmulatorCredential

    client = KeyVaultAccessControlClient(
        emulators.url("hsm00"), EmulatorCredential(TokenAuthority(tenant), RUNNER),
        verify_challenge_resource=False, connection_verify=emulators.endpoints["ca_cert"], retry_total=20,
    )
    hsm0 = emulators.sample("hsm00")

    def measure(calls: list[Callable[[], Any]]) -> tuple[float, int]:
        time.sleep(1.5)
        emulators.clear()
        started = time.perf_counter()
        for call in calls:
            call()
        return (time.perf_counter() - started) / len(calls), emulators.stats()["throttled"]

    gets = hsm0["assignments"][:sample]
    per_get = measure([(lambda s=s, n=n: client.get_role_assignment(s, n)) for s, n in gets])
    scopes = ["/", "/keys", *(f"/keys/{k}" for k in hsm0["keys"])][:sample]
    per_list = measure([(lambda s=s: list(client.list_role_assignments(s))) for s in scopes])
    client.close()
    return {"per_get": per_get, "gets": len(gets), "per_list": per_list, "lists": len(scopes)}


def _shards(names: list[str], shards: int) -> list[list[str]]:
    """`shards` groups as even as can be (sizes differ by one at most; 9 HSMs in 4: 2, 2, 2, 3):
    rounding the size up instead gave fewer groups than asked (3, 3, 3)."""
    n = min(shards, len(names))
    return [names[i * len(names) // n : (i + 1) * len(names) // n] for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hsms", type=int, default=20)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--keyed", type=int, default=100, help="keys with 10 assignments each")
    ap.add_argument("--changes", type=int, default=60, help="changes per HSM (half creates, half deletes)")
    ap.add_argument("--latency", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--sample", type=int, default=60)
    ap.add_argument("--emulators", type=int, default=2, help="emulator processes")
    ap.add_argument("--shards", type=int, default=0, help="run N shard processes one after another")
    ap.add_argument("--shard", type=int, default=0, help="with --shards: run only shard K (1-based)")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--profile", type=Path, help="write cProfiles (CPU time) of hsmsync's discovery + "
                    "planning to FILE and of the emulator's parts over the same phase to FILE.partN")
    args = ap.parse_args()

    fleet = Fleet(hsms=args.hsms, keys=args.keys, keyed=args.keyed, per_key=10,
                  missing=args.changes // 2, stray=args.changes - args.changes // 2)
    live = fleet.live()
    assignments = sum(len(h.role_assignments) for h in live.hsms.values())
    load_before = os.getloadavg()
    faults = f"latency={args.latency}ms,throttle={args.rate}"
    with tempfile.TemporaryDirectory(prefix="hsmsync-bench-") as tmp, \
            EmulatorParts(live, Path(tmp), parts=args.emulators, faults=faults,
                          profile=args.profile is not None) as emulators:
        workdir = Path(tmp)
        (workdir / "hsmsync.yaml").write_text(fleet.manifest(), encoding="utf-8")
        emulators.write_endpoints(workdir / "endpoints.json")
        title = (f"{args.hsms} HSMs x {args.keys} keys, {assignments:,} assignments, latency "
                 f"{args.latency:g} ms, {args.rate:g} RBAC calls/s per HSM, "
                 f"emulator in {emulators.parts} process(es)")
        rows = [("fleet", title), *machine_rows(load_before)]
        if args.shards:
            runs = []
            for k, group in enumerate(_shards(fleet.hsm_names(), args.shards), start=1):
                if args.shard and k != args.shard:
                    continue
                targets = [f"hsm:{name}" for name in group]
                runs.append((k, group, HsmsyncRun(emulators, workdir, args.rate, targets, args.profile).run()))
            rows += shard_rows(runs, args.rate)
            rows += shard_rule_rows(runs, args.rate)
        else:
            run = HsmsyncRun(emulators, workdir, args.rate, [], args.profile).run()
            baselines = None if args.no_baselines else _baselines(emulators, args.sample, live.tenant_id)
            rows += run_rows(run, args.rate, assignments, baselines)
            rows += shard_rule_rows([(1, fleet.hsm_names(), run)], args.rate)
        rows.append(("load average after", " ".join(f"{x:.1f}" for x in os.getloadavg())))
    print_rows(rows)


if __name__ == "__main__":
    main()
