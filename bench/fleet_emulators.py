"""The fleet benchmark's emulator, in processes of its own so its CPU is measured apart from hsmsync's.

The fleet's HSMs are split over `parts` emulator processes (HSM i in part i % parts), each serving
its HSMs' data planes from a state file of its own; part 0 also serves ARM (which knows every HSM)
and the token service that hsmsync signs in at. The processes are forked from the benchmark before it starts any thread, after the
token authority's signing key is made: every part then verifies the tokens part 0 issues. Each
part has its own TLS certificate; the endpoints file trusts a bundle of all of them.

Each part answers commands over a pipe: `stats` (calls, RBAC calls per HSM, 429s, its CPU
seconds), `clear` (forget the calls so far), `sample HSM` (assignments and keys of one HSM, for
the baselines), `dump FILE` (its threads' profile, when started with `profile`) and `stop`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import resource
import secrets
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import SignInApplication, SignInDirectory
from hsmsync_files.statefile import write_state_file


@dataclass(frozen=True)
class SignIn:
    """The application hsmsync signs in as (a client secret), written into part 0's state."""

    tenant_id: str
    client_id: str
    secret: str

    def environ(self) -> dict[str, str]:
        return {
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.secret,
            "HSMSYNC_AUTH": "client-secret",
        }


def _cpu_seconds() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"user": usage.ru_utime, "sys": usage.ru_stime}


def _serve_part(state_path: Path, faults: str, conn: Connection, profile: bool) -> None:
    """One emulator process: start, report endpoints, answer commands until `stop`."""
    from hsmsync_emulator import parse_faults, start_emulator

    if profile:
        from profiling import profile_threads

        profile_threads()

    # The benchmark asks the emulator over its pipe and never reads its file, so the file is not
    # rewritten mid-run: at 200 HSMs a part's state is about 10 MB of JSON, written under the
    # store's lock every few seconds of an apply while every call waited.
    with start_emulator(state_path, faults=parse_faults(faults), persist_interval=86400.0) as emu:
        # The fleet's state, loaded once, outlives the run: out of the collector's sight, so its
        # full passes do not walk 210,000 assignments (200 HSMs) while calls wait (a process of
        # its own, so nothing else is held back from collection).
        gc.freeze()
        conn.send({"endpoints": emu.endpoints, "ca": emu.ca_cert_path.read_text()})
        while True:
            command, _, arg = conn.recv().partition(" ")
            if command == "stop":
                break
            if command == "clear":
                emu.clear_log()
                conn.send(None)
            elif command == "stats":
                with emu._log_lock:  # the benchmark's own view of the emulator's log
                    calls = sum(1 for _, _, status in emu.request_log if status != 401)
                    throttled = sum(1 for _, _, status in emu.request_log if status == 429)
                    rbac = dict(emu.rbac_calls)
                conn.send({"calls": calls, "throttled": throttled, "rbac": rbac, "cpu": _cpu_seconds(),
                           "connections": sum(emu.connections.values()),
                           "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
            elif command == "dump":
                from profiling import dump

                dump(Path(arg))
                conn.send(None)
            elif command == "sample":
                hsm = emu.state().hsms[arg]
                conn.send({"assignments": [(a.scope, a.name) for a in hsm.role_assignments],
                           "keys": list(hsm.keys or ())})
    conn.close()


class EmulatorParts:
    """`parts` emulator processes serving `live` (see the module docstring)."""

    def __init__(self, live: LiveState, workdir: Path, *, parts: int, faults: str, profile: bool = False) -> None:
        from hsmsync_emulator.tokens import SigningKey

        SigningKey("entra")  # made once, before forking: every part signs and verifies with it
        secret = secrets.token_urlsafe(16)
        self.sign_in = SignIn(live.tenant_id, str(uuid.uuid4()), secret)
        app = SignInApplication(
            client_id=self.sign_in.client_id,
            object_id=_runner(),
            client_secret_sha256=(hashlib.sha256(secret.encode()).hexdigest(),),
        )
        names = list(live.hsms)
        parts = max(1, min(parts, len(names)))
        context = multiprocessing.get_context("fork")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self.hsm_part: dict[str, int] = {}
        for part in range(parts):
            mine = names[part::parts]
            self.hsm_part.update(dict.fromkeys(mine, part))
            # Part 0 also serves ARM, which must know every HSM: the others' without their RBAC.
            others = {} if part else {
                n: h.model_copy(update={"role_assignments": (), "keys": ()}) for n, h in live.hsms.items()
            }
            state = live.model_copy(update={
                "hsms": {**others, **{n: live.hsms[n] for n in mine}},
                "sign_in": SignInDirectory(applications=(app,)) if part == 0 else live.sign_in,
            })
            path = workdir / f"emulated-{part}.json"
            write_state_file(path, state)
            parent, child = context.Pipe()
            proc = context.Process(target=_serve_part, args=(path, faults, child, profile),
                                   daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        started = [conn.recv() for conn in self._conns]
        self.endpoints: dict[str, Any] = dict(started[0]["endpoints"])
        self.endpoints["hsms"] = {n: started[self.hsm_part[n]]["endpoints"]["hsms"][n] for n in names}
        bundle = workdir / "emulator-ca.pem"
        bundle.write_text("".join(s["ca"] for s in started), encoding="utf-8")
        self.endpoints["ca_cert"] = str(bundle)
        self.pids = [p.pid for p in self._procs]

    @property
    def parts(self) -> int:
        return len(self._procs)

    def write_endpoints(self, path: Path) -> None:
        path.write_text(json.dumps(self.endpoints, indent=2) + "\n", encoding="utf-8")

    def _ask(self, command: str, part: int | None = None) -> list[Any]:
        conns = self._conns if part is None else [self._conns[part]]
        for conn in conns:
            conn.send(command)
        return [conn.recv() for conn in conns]

    def clear(self) -> None:
        self._ask("clear")

    def stats(self) -> dict[str, Any]:
        """Calls, largest per-HSM RBAC count, 429s since the last clear; CPU and RSS of all parts."""
        parts = self._ask("stats")
        rbac: dict[str, int] = {}
        for p in parts:
            rbac.update(p["rbac"])
        return {
            "calls": sum(p["calls"] for p in parts),
            "rbac_calls": sum(rbac.values()),
            "max_rbac": max(rbac.values(), default=0),
            "rbac": rbac,
            "throttled": sum(p["throttled"] for p in parts),
            "cpu": sum(p["cpu"]["user"] + p["cpu"]["sys"] for p in parts),
            "cpu_by_part": [p["cpu"]["user"] + p["cpu"]["sys"] for p in parts],
            "maxrss_mb": sum(p["maxrss_mb"] for p in parts),
            "connections": sum(p["connections"] for p in parts),  # since the start
        }

    def dump_profiles(self, prefix: Path) -> None:
        """With `profile`: each part writes its threads' merged profile to PREFIX.partN."""
        for part, conn in enumerate(self._conns):
            conn.send(f"dump {prefix}.part{part}")
            conn.recv()

    def sample(self, hsm: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._ask(f"sample {hsm}", self.hsm_part[hsm])[0]
        return answer

    def url(self, hsm: str) -> str:
        return str(self.endpoints["hsms"][hsm])

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send("stop")
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)

    def __enter__(self) -> EmulatorParts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _runner() -> str:
    from tests.reliability.fleet import RUNNER

    return RUNNER
