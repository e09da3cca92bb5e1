"""hsmsync's CPU per RBAC list call, alone: one thread, one HSM, the emulator in another process.

    .venv/bin/python bench/call_cost.py [--calls 3000] [--rounds 3]

Lists one key scope of one HSM (55 items, 50 of them HSM-wide: a fleet HSM's key scope) `--calls`
times through the live backend's own client and page reader (the SDK client's pipeline: sign-in
challenge, retries, pacing at an unreachable rate, host check), and prints the calling thread's CPU
time per call (`time.thread_time`: user + sys of that thread only, so a busy machine inflates it
far less than wall time). The fleet benchmark measures the same thing inside a full run; this
isolates it, to compare two versions of the code side by side (put the other checkout's `src`
first on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fleet_emulators import EmulatorParts  # noqa: E402

from tests.reliability.fleet import Fleet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--compare", action="store_true",
                    help="also time the same client on azure-core's default requests session")
    args = ap.parse_args()

    from hsmsync.backends.azure import make_azure_backend
    from hsmsync.backends.azure.assignment_pages import list_assignments

    fleet = Fleet(hsms=1, keys=20, keyed=20, per_key=5, missing=0, stray=0)
    with tempfile.TemporaryDirectory(prefix="hsmsync-callcost-") as tmp, \
            EmulatorParts(fleet.live(), Path(tmp), parts=1, faults="throttle=0") as emulators:
        endpoints = Path(tmp) / "endpoints.json"
        emulators.write_endpoints(endpoints)
        environ = {**os.environ, **emulators.sign_in.environ(), "HSMSYNC_HSM_RATE": "100000"}
        with make_azure_backend(endpoints=endpoints, environ=environ) as backend:
            url = emulators.url("hsm00")
            clients = {"hsmsync's client": backend.clients.access_control(url)}
            if args.compare:
                clients["its default session"] = _with_default_session(backend.clients, url)
            scope = f"/keys/{fleet.key_names()[0]}"
            per_call: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(args.rounds):  # interleaved: the machine's moods fall on both alike
                for name, client in clients.items():
                    items = sum(1 for _ in list_assignments(client, "hsm00", scope, only_at=scope.lower()))
                    started = time.thread_time()
                    for _ in range(args.calls):
                        sum(1 for _ in list_assignments(client, "hsm00", scope, only_at=scope.lower()))
                    per_call[name].append((time.thread_time() - started) / args.calls * 1000)
    for name, figures in per_call.items():
        print(f"CPU per list call, {name:22} {statistics.median(figures):.3f} ms median, "
              f"{min(figures):.3f} ms least ({args.rounds} rounds of {args.calls:,}; "
              f"{items} of the scope's items kept)")
    print(f"load average after             {os.getloadavg()[0]:.1f}")


def _with_default_session(factory: Any, url: str) -> Any:
    """The same client, but on the transport azure-core builds by default (a plain requests
    session reading the environment on every call): what `transport.LeanSession` replaced."""
    from azure.keyvault.administration import KeyVaultAccessControlClient

    kwargs = factory._hsm_kwargs()
    kwargs.pop("transport")
    return KeyVaultAccessControlClient(
        url, factory.credential, verify_challenge_resource=False,
        connection_verify=factory.settings.connection_verify, **kwargs,
    )


if __name__ == "__main__":
    main()
