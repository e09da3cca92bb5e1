"""`hsmsync plan` time by number of changes: N principals, each getting one assignment on an empty
HSM, planned against a state file in-process (manifest loading, planning, after-state, access
delta, lint, the lockout guard with a caller, text rendering). Grows linearly with N.

Run: `make bench` or `.venv/bin/python bench/changes.py [N ...]` (default 1000 4000 20000).
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from hsmsync.cli import main
from hsmsync.environment import Environment
from hsmsync.manifest import load_manifest

ADMIN = "a290e904-7015-4bba-90c8-60543313cdb4"
CALLER = str(uuid.UUID(int=2**64))
SUB = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
RID = f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1"
URL = "https://h1.managedhsm.azure.net"
ROLES = ("Crypto User", "Crypto Auditor", "Crypto Service Encryption User")


def write_inputs(directory: Path, n: int) -> None:
    lines = ["version: 1", "principals:", f"  pipeline: {{type: ServicePrincipal, id: {CALLER}}}"]
    lines += [f"  p{i}: {{type: ServicePrincipal, id: {uuid.UUID(int=i + 1)}}}" for i in range(n)]
    lines += ["hsms:", "  h1:", f"    url: {URL}", f"    resource_id: {RID}"]
    lines += ["    prune: true", "teams:", "  pipeline:", "    members: [pipeline]"]
    lines += ["    data: [{hsm: h1, role: Managed HSM Administrator, scope: /}]"]
    for i in range(n):
        lines += [
            f"  t{i}:",
            f"    members: [p{i}]",
            f"    data: [{{hsm: h1, role: {ROLES[i % 3]}, scope: /}}]",
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
            "h1": {"url": "https://h1.managedhsm.azure.net", "resource_id": RID, "role_assignments": [admin]}
        },
    }
    (directory / "state.json").write_text(json.dumps(state), encoding="utf-8")


def plan_seconds(n: int) -> tuple[float, float]:
    """(the whole `plan` command, of which reading and parsing the YAML manifest)."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_inputs(directory, n)
        start = time.perf_counter()
        load_manifest(directory / "hsmsync.yaml")
        loading = time.perf_counter() - start
        out, err = io.StringIO(), io.StringIO()
        env = Environment(
            stdout=out, stderr=err, stdin=io.StringIO(), stdin_isatty=False, environ={}, cwd=directory
        )
        start = time.perf_counter()
        code = main(["plan", "--state", "state.json", "--caller", CALLER, "-q"], env=env)
        elapsed = time.perf_counter() - start
        if code != 0 or f"Plan: {n} to create" not in out.getvalue():
            raise SystemExit(f"plan of {n} changes failed (exit {code}): {err.getvalue()[:500]}")
        return elapsed, loading


def main_bench(sizes: list[int]) -> None:
    print("changes  plan seconds  of which YAML  the rest  rest per change (us)")
    for n in sizes:
        seconds, loading = plan_seconds(n)
        rest = seconds - loading
        print(f"{n:7d}  {seconds:12.2f}  {loading:12.2f}  {rest:8.2f}  {rest / n * 1e6:20.0f}")


if __name__ == "__main__":
    main_bench([int(a) for a in sys.argv[1:]] or [1000, 4000, 20000])
