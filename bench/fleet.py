"""Fleet benchmark: hsmsync against the local emulator, at the service's rate, with latency.

    .venv/bin/python bench/fleet.py [--hsms 20] [--keys 200] [--keyed 100] [--changes 60]
        [--latency 20] [--rate 5] [--sample 60]

The emulator throttles RBAC calls at `--rate` per HSM (token bucket, as the service) and adds
`--latency` ms to every call. hsmsync runs in a child process (so its peak memory is its own):
discovery + planning, then apply. Reported: API calls, wall time against the floor (the largest
per-HSM RBAC call count / rate, all HSMs in parallel), 429s provoked, peak RSS. Two baselines run
in the same process against the same emulator, each on a measured sample of `--sample` calls on
one HSM, scaled to the fleet's call count: the per-resource way (one GET per managed assignment,
serially, as a Terraform refresh does) and the serial az-style way (the same lists as hsmsync,
one at a time, no client pacing, retrying 429s as azure-core does).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability.fleet import RUNNER, Fleet  # noqa: E402
from tests.signin import app_with_secret  # noqa: E402


def _child(workdir: Path) -> None:
    """Discover + plan, report, wait for 'go', apply, report (one JSON line per phase)."""
    from hsmsync.applier import ChangeStatus, apply_plan
    from hsmsync.backends.azure import make_azure_backend
    from hsmsync.backends.registry import read_request_for
    from hsmsync.core.planner import plan_changes
    from hsmsync.manifest import load_manifest

    desired = load_manifest(workdir / "hsmsync.yaml").desired
    with make_azure_backend(endpoints=workdir / "endpoints.json", environ=dict(os.environ)) as backend:
        started = time.perf_counter()
        live = backend.read_state(read_request_for(desired))
        discovered = time.perf_counter()
        plan = plan_changes(desired, live)
        planned = time.perf_counter()
        print(json.dumps({"discovery": discovered - started, "planner": planned - discovered,
                          "changes": len(plan.changes)}), flush=True)
        sys.stdin.readline()
        started = time.perf_counter()
        result = apply_plan(plan, backend, workers=backend.workers)
        applied = time.perf_counter()
        print(json.dumps({"apply": applied - started, "ok": result.ok,
                          "applied": result.count(ChangeStatus.APPLIED),
                          "already": result.count(ChangeStatus.ALREADY_DONE)}), flush=True)
        sys.stdin.readline()
        started = time.perf_counter()
        again = plan_changes(desired, backend.read_state(read_request_for(desired)))
        print(json.dumps({"replan": time.perf_counter() - started, "replan_changes": len(again.changes),
                          "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}),
              flush=True)


def _throttled(emu: Any) -> int:
    return sum(1 for _, _, status in emu.request_log if status == 429)


def _snapshot(emu: Any) -> tuple[int, int, int]:
    """(all calls, largest per-HSM RBAC calls, 429s) since the last clear."""
    total = sum(1 for _, _, status in emu.request_log if status != 401)
    return total, max(emu.rbac_calls.values(), default=0), _throttled(emu)


def _unpaced_client(emu: Any, hsm: str) -> Any:
    from azure.keyvault.administration import KeyVaultAccessControlClient

    from tests.signin import EmulatorCredential

    return KeyVaultAccessControlClient(
        emu.hsm_urls[hsm],
        EmulatorCredential(emu, RUNNER),
        verify_challenge_resource=False,
        connection_verify=str(emu.ca_cert_path),
        retry_total=20,
    )


def _baseline(emu: Any, calls: list[Any]) -> tuple[float, int]:
    """Run `calls` serially; (seconds per call, 429s provoked)."""
    time.sleep(1.5)  # let the emulator's bucket refill after the previous phase
    emu.clear_log()
    started = time.perf_counter()
    for call in calls:
        call()
    return (time.perf_counter() - started) / len(calls), _throttled(emu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hsms", type=int, default=20)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--keyed", type=int, default=100, help="keys with 10 assignments each")
    ap.add_argument("--changes", type=int, default=60, help="changes per HSM (half creates, half deletes)")
    ap.add_argument("--latency", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--sample", type=int, default=60)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child)
        return

    from hsmsync_emulator import parse_faults, start_emulator

    fleet = Fleet(hsms=args.hsms, keys=args.keys, keyed=args.keyed, per_key=10,
                  missing=args.changes // 2, stray=args.changes - args.changes // 2)
    with tempfile.TemporaryDirectory(prefix="hsmsync-bench-") as tmp:
        workdir = Path(tmp)
        _, state_path = fleet.write(workdir)
        faults = parse_faults(f"latency={args.latency}ms,throttle={args.rate}")
        with start_emulator(state_path, faults=faults, persist_interval=1.0) as emu:
            emu.write_endpoints(workdir / "endpoints.json")
            sign_in = app_with_secret(emu, RUNNER)  # the child signs in with a client secret
            assignments = sum(len(h.role_assignments) for h in emu.state().hsms.values())
            child = subprocess.Popen(
                [sys.executable, __file__, "--child", str(workdir)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                env={"HSMSYNC_HSM_RATE": str(args.rate), "PATH": "/usr/bin:/bin", **sign_in},
            )
            assert child.stdin is not None and child.stdout is not None
            plan_info = json.loads(child.stdout.readline())
            plan_calls = _snapshot(emu)
            emu.clear_log()
            child.stdin.write("go\n")
            child.stdin.flush()
            apply_info = json.loads(child.stdout.readline())
            apply_calls = _snapshot(emu)
            time.sleep(1.5)
            emu.clear_log()
            child.stdin.write("go\n")
            child.stdin.flush()
            final = json.loads(child.stdout.readline())
            child.wait()

            # Baselines on hsm00 (converged now): a measured sample, scaled to the fleet.
            client = _unpaced_client(emu, "hsm00")
            hsm0 = emu.state().hsms["hsm00"]
            managed = [a for a in hsm0.role_assignments][: args.sample]
            per_get, get_429 = _baseline(emu, [
                (lambda a=a: client.get_role_assignment(a.scope, a.name)) for a in managed
            ])
            scopes = ["/", "/keys", *(f"/keys/{k}" for k in hsm0.keys)][: args.sample]
            per_list, list_429 = _baseline(emu, [
                (lambda s=s: list(client.list_role_assignments(s))) for s in scopes
            ])
            client.close()

    floor_plan = plan_calls[1] / args.rate
    floor_apply = apply_calls[1] / args.rate
    plan_wall = plan_info["discovery"] + plan_info["planner"]
    rows = [
        ("fleet", f"{args.hsms} HSMs x {args.keys} keys, {assignments:,} assignments, "
                  f"latency {args.latency:g} ms, {args.rate:g} RBAC calls/s per HSM"),
        ("changes planned / applied", f"{plan_info['changes']:,} / {apply_info['applied']:,} "
                                      f"(+{apply_info['already']} already done), ok={apply_info['ok']}"),
        ("re-plan after apply", f"{final['replan_changes']} changes"),
        ("API calls: plan", f"{plan_calls[0]:,} (largest per HSM: {plan_calls[1]} RBAC)"),
        ("API calls: apply", f"{apply_calls[0]:,} (largest per HSM: {apply_calls[1]} RBAC)"),
        ("plan wall / floor", f"{plan_wall:.1f}s / {floor_plan:.1f}s = {plan_wall / floor_plan:.2f}x "
                              f"(planner alone {plan_info['planner']:.2f}s)"),
        ("apply wall / floor", f"{apply_info['apply']:.1f}s / {floor_apply:.1f}s = "
                               f"{apply_info['apply'] / floor_apply:.2f}x"),
        ("429s provoked (plan, apply)", f"{plan_calls[2]}, {apply_calls[2]}"),
        ("peak RSS of hsmsync", f"{final['maxrss_mb']:.0f} MB"),
        ("per-resource (GET each, serial)",
         f"{per_get * 1000:.0f} ms/call measured on {len(managed)} GETs ({get_429} x 429) -> "
         f"{per_get * assignments / 60:.1f} min for {assignments:,} assignments = "
         f"{per_get * assignments / plan_wall:.0f}x hsmsync's plan"),
        ("serial az-style (lists, serial)",
         f"{per_list * 1000:.0f} ms/call measured on {len(scopes)} lists ({list_429} x 429) -> "
         f"{per_list * plan_calls[0] / 60:.1f} min for hsmsync's {plan_calls[0]:,} calls = "
         f"{per_list * plan_calls[0] / plan_wall:.0f}x hsmsync's plan"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
