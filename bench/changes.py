"""`hsmsync plan` time by number of changes: N principals, each getting one assignment on an empty
HSM, planned against a state file in-process (manifest loading, planning, after-state, access
delta, lint, the lockout guard with a caller, text rendering), then the stages one by one.
Every stage grows linearly with N; reading the YAML manifest (with line numbers for error
messages, and the model validated) is the largest part.

Run: `make bench` or `.venv/bin/python bench/changes.py [N ...]` (default 1000 4000 20000).
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hsmsync.cli import main
from hsmsync.core.access_delta import access_delta, state_after_plan
from hsmsync.core.applier_rights import rights_to_keep
from hsmsync.core.grants import grants_from_live
from hsmsync.core.guard import Caller, check_lockout
from hsmsync.core.lint import lint
from hsmsync.core.planner import plan_changes
from hsmsync.environment import Environment
from hsmsync.manifest import load_manifest
from hsmsync_files.statefile import read_state_file

T = TypeVar("T")

ADMIN = "a290e904-7015-4bba-90c8-60543313cdb4"
CALLER = str(uuid.UUID(int=2**64))
SUB = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
RID = f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1"
URL = "https://h1.managedhsm.azure.net"
ROLES = ("Crypto User", "Crypto Auditor", "Crypto Service Encryption User")


PER_KEY = 10  # the service's limit of role assignments per key scope


def _key(i: int) -> str:
    return f"k{i // PER_KEY}"


def write_inputs(directory: Path, n: int) -> None:
    """N principals, each given one role at a key scope (at most PER_KEY per key, as the service
    allows), on an HSM whose only assignment is the caller's Administrator at '/'."""
    lines = ["version: 1", "principals:", f"  pipeline: {{type: ServicePrincipal, id: {CALLER}}}"]
    lines += [f"  p{i}: {{type: ServicePrincipal, id: {uuid.UUID(int=i + 1)}}}" for i in range(n)]
    lines += ["hsms:", "  h1:", f"    url: {URL}", f"    resource_id: {RID}"]
    lines += ["    prune: true", "teams:", "  pipeline:", "    members: [pipeline]"]
    lines += ["    data: [{hsm: h1, role: Managed HSM Administrator, scope: /}]"]
    for i in range(n):
        lines += [
            f"  t{i}:",
            f"    members: [p{i}]",
            f"    data: [{{hsm: h1, role: {ROLES[i % 3]}, scope: /keys/{_key(i)}}}]",
        ]
    (directory / "hsmsync.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    admin = {
        "name": str(uuid.UUID(int=2**65)),
        "scope": "/",
        "role_definition_id": ADMIN,
        "principal_id": CALLER,
    }
    state = {
        "version": 1,
        "hsms": {
            "h1": {
                "url": "https://h1.managedhsm.azure.net",
                "resource_id": RID,
                "role_assignments": [admin],
                "keys": sorted({_key(i) for i in range(n)}),
            }
        },
    }
    (directory / "state.json").write_text(json.dumps(state), encoding="utf-8")


def _cli_seconds(directory: Path, n: int) -> float:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdout=out, stderr=err, stdin=io.StringIO(), stdin_isatty=False, environ={}, cwd=directory
    )
    start = time.perf_counter()
    code = main(["plan", "--state", "state.json", "--caller", CALLER, "-q"], env=env)
    elapsed = time.perf_counter() - start
    if code != 0 or f"Plan: {n} to create" not in out.getvalue():
        raise SystemExit(f"plan of {n} changes failed (exit {code}): {err.getvalue()[:500]}")
    return elapsed


def _stage_seconds(directory: Path) -> dict[str, float]:
    """What `plan` does after reading its inputs, stage by stage (the part that was quadratic)."""
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], T]) -> T:
        start = time.perf_counter()
        value = fn()
        seconds[name] = time.perf_counter() - start
        return value

    loaded = timed("manifest", lambda: load_manifest(directory / "hsmsync.yaml"))
    desired, live = loaded.desired, read_state_file(directory / "state.json")
    plan = timed("planner", lambda: plan_changes(desired, live))
    after = timed("after-state", lambda: state_after_plan(live, plan))
    timed(
        "access delta",
        lambda: access_delta(
            grants_from_live(live, desired.principals), grants_from_live(after, desired.principals)
        ),
    )
    timed("lint", lambda: lint(loaded.manifest, desired, live, after=after))
    keep = rights_to_keep(desired)
    timed("guard", lambda: check_lockout(plan, live, caller=Caller(CALLER), keep=keep, after=after))
    return seconds


def main_bench(sizes: list[int]) -> None:
    print("changes  `plan` total  manifest  planner  after-state  access delta  lint  guard  (seconds)")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            write_inputs(directory, n)
            total = _cli_seconds(directory, n)
            s = _stage_seconds(directory)
        print(
            f"{n:7d}  {total:12.2f}  {s['manifest']:8.2f}  {s['planner']:7.2f}  {s['after-state']:11.2f}  "
            f"{s['access delta']:12.2f}  {s['lint']:4.2f}  {s['guard']:5.2f}"
        )


if __name__ == "__main__":
    main_bench([int(a) for a in sys.argv[1:]] or [1000, 4000, 20000])
