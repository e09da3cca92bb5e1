"""Planner alone (no I/O) on a synthetic 100k-assignment desired/live pair: CPU seconds, peak memory.

Target: <= 0.5 CPU s and <= 300 MB. Run: `make bench` or `.venv/bin/python bench/planner.py [N]`.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
import uuid

from hsmsync.core.desired import DesiredAssignment, DesiredHsm, DesiredState, PrincipalInfo
from hsmsync.core.plan import Plane
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import DataRoleAssignment, HsmState, LiveState
from hsmsync.gc_aside import set_aside_from_gc

ROLES = [
    "21dbd100-6940-42c2-9190-5d6cb909625b",
    "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3",
    "33413926-3206-4cdd-b39a-83574fe37a17",
]


def synthetic(n: int) -> tuple[DesiredState, LiveState]:
    hsms_n = max(1, n // 5000)
    principals = {}
    desired: list[DesiredAssignment] = []
    live: dict[str, list[DataRoleAssignment]] = {f"h{h}": [] for h in range(hsms_n)}
    for i in range(n):
        hsm = f"h{i % hsms_n}"
        pid = str(uuid.UUID(int=i + 1))
        info = PrincipalInfo(key=f"p{i}", id=pid, type="ServicePrincipal", display=None)
        principals[pid] = info
        scope = f"/keys/k{(i // hsms_n) % 2000}"
        role = ROLES[i % 3]
        # 90 % already in place, 5 % missing (create), 5 % stray (delete: different role live).
        if i % 20 != 0:
            desired.append(DesiredAssignment(Plane.DATA, hsm, scope, role, "role", info, ("team t",)))
        if i % 20 != 1:
            live_role = role if i % 20 != 0 else ROLES[(i + 1) % 3]
            live[hsm].append(
                DataRoleAssignment.model_construct(
                    name=str(uuid.UUID(int=10**12 + i)),
                    scope=scope,
                    role_definition_id=live_role,
                    principal_id=pid,
                )
            )
    hsms = {h: DesiredHsm(h, f"https://{h}.managedhsm.azure.net", "", True, False, ()) for h in live}
    state = LiveState(
        hsms={
            h: HsmState.model_construct(
                url=f"https://{h}.managedhsm.azure.net",
                resource_id="",
                initial_admin_object_ids=(),
                role_definitions=(),
                builtin_role_definitions=None,
                role_assignments=tuple(a),
                # A real HSM has the keys its assignments name: with none listed, each of the
                # 38,000 key scopes drew a "names no existing key" warning that no real plan has.
                keys=tuple(sorted({x.scope.removeprefix("/keys/") for x in a if x.scope.startswith("/keys/")})),
            )
            for h, a in live.items()
        }
    )
    return DesiredState(hsms, tuple(desired), principals, (), False), state


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    desired, live = synthetic(n)
    # Timed without tracing (tracemalloc slows allocation-heavy code severalfold), best of 5, as
    # the workflow runs it: with the states it plans from set aside from the garbage collector.
    runs = []
    for _ in range(5):
        with set_aside_from_gc():
            cpu0, wall0 = time.process_time(), time.perf_counter()
            plan = plan_changes(desired, live)
            runs.append((time.process_time() - cpu0, time.perf_counter() - wall0))
    cpu, wall = min(runs)
    tracemalloc.start()
    plan_changes(desired, live)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = plan.summary()
    print(f"{'assignments':<28}{n:>12,}")
    print(f"{'changes (create/delete)':<28}{s['create']:>6,}/{s['delete']:,}")
    print(f"{'planner CPU seconds (best of 5)':<28}{cpu:>12.3f}   target <= 0.5")
    print(f"{'planner wall seconds':<28}{wall:>12.3f}")
    print(f"{'planner peak alloc (MB)':<28}{peak / 2**20:>12.1f}   target <= 300 (traced, planner only)")
    print(f"{'process max RSS (MB)':<28}{rss:>12.1f}   (includes building the inputs)")


if __name__ == "__main__":
    main()
