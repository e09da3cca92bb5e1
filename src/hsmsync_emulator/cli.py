"""`hsmsync emulator`: serve a state file until interrupted (Ctrl-C) or terminated (SIGTERM, SIGHUP)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TextIO

from hsmsync.core.errors import HsmsyncError
from hsmsync_emulator.faults import FaultConfig, parse_faults
from hsmsync_emulator.replica import ReplicaConfig, parse_replica
from hsmsync_emulator.runtime import start_emulator


class FaultSpecError(HsmsyncError, ValueError):
    """The --faults or --replica spec is invalid (the message names the item)."""


class Terminated(SystemExit):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C, so the temp folder and its files are removed."""


_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _terminate(signum: int, frame: FrameType | None) -> None:
    for sig in _SIGNALS:  # a second signal must not interrupt the cleanup the first one started
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(0)


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """SIGTERM (what `kill` and `make demo`'s trap send) and SIGHUP end the emulator through its
    `finally`, as Ctrl-C does; the default action would kill it on the spot and leave the temp folder."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return
    previous = {sig: signal.signal(sig, _terminate) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True, slots=True)
class ServeSpecs:
    """The option strings that shape the emulator: `--faults` and `--replica`."""

    faults: str | None = None
    replica: str | None = None


def run_emulator_cli(
    state: Path, port: int, endpoints_out: Path | None, specs: ServeSpecs | str | None, stdout: TextIO
) -> int:
    """Start the emulator, print where it listens and which certificate to trust, serve until Ctrl-C.

    `specs`: the `--faults` and `--replica` strings (a bare string is a `--faults` spec).
    Raises FaultSpecError (an HsmsyncError and a ValueError) for a bad spec and StateError for an
    unusable state file, both before anything listens.
    """
    given = specs if isinstance(specs, ServeSpecs) else ServeSpecs(faults=specs)
    try:
        config = parse_faults(given.faults) if given.faults else None
    except ValueError as exc:
        raise FaultSpecError(f"--faults: {exc}") from None
    try:
        replica = parse_replica(given.replica) if given.replica else None
    except ValueError as exc:
        raise FaultSpecError(f"--replica: {exc}") from None
    with _terminate_cleanly():
        try:
            return _serve(state, port, endpoints_out, (config, replica), stdout)
        except Terminated:
            stdout.write("stopped (terminated)\n")
            return 0


def _serve(
    state: Path,
    port: int,
    endpoints_out: Path | None,
    configs: tuple[FaultConfig | None, ReplicaConfig | None],
    stdout: TextIO,
) -> int:
    faults, replica = configs
    if replica is not None:
        faults = replace(faults or FaultConfig(), replica=replica)
    try:
        emulator = start_emulator(state, port=port, faults=faults)
    except OSError as exc:  # the port is taken, or not ours to use
        where = f"port {port} and the next ones" if port else "an ephemeral port"
        raise HsmsyncError(f"emulator: cannot listen on 127.0.0.1, {where}: {exc.strerror or exc}") from None
    try:
        if endpoints_out is not None:
            emulator.write_endpoints(endpoints_out)
        stdout.write(f"hsmsync emulator serving {state}\n")
        for name, url in emulator.hsm_urls.items():
            stdout.write(f"  hsm {name}: {url}\n")
        for name, url in emulator.vault_urls.items():
            stdout.write(f"  vault {name} (data plane): {url}\n")
        stdout.write(f"  arm:   {emulator.arm_url}\n")
        stdout.write(f"  graph: {emulator.arm_url}\n")
        stdout.write(f"  token service: {emulator.authority_url} (signs in the state's `sign_in`)\n")
        stdout.write(f"  tenant: {emulator.tenant_id}\n")
        if replica is not None:
            stdout.write(f"  {replica.describe()}\n")
        stdout.write(f"  trust this CA certificate: {emulator.ca_cert_path}\n")
        if endpoints_out is not None:
            stdout.write(f"  endpoints written to {endpoints_out}\n")
        stdout.write("Press Ctrl-C to stop.\n")
        stdout.flush()
        try:
            emulator.serve_forever()
        except KeyboardInterrupt:
            stdout.write("stopped\n")
    finally:
        emulator.stop()
    return 0
