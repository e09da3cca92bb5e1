"""`hsmsync emulator`: serve a state file until interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from hsmsync.core.errors import HsmsyncError
from hsmsync.emulator.faults import parse_faults
from hsmsync.emulator.runtime import start_emulator


class FaultSpecError(HsmsyncError, ValueError):
    """The --faults spec is invalid (the message names the item)."""


def run_emulator_cli(
    state: Path, port: int, endpoints_out: Path | None, faults: str | None, stdout: TextIO
) -> int:
    """Start the emulator, print where it listens and which certificate to trust, serve until Ctrl-C.

    Raises FaultSpecError (an HsmsyncError and a ValueError) for a bad `faults` spec and StateError
    for an unusable state file, both before anything listens.
    """
    try:
        config = parse_faults(faults) if faults else None
    except ValueError as exc:
        raise FaultSpecError(f"--faults: {exc}") from None
    emulator = start_emulator(state, port=port, faults=config)
    try:
        if endpoints_out is not None:
            emulator.write_endpoints(endpoints_out)
        stdout.write(f"hsmsync emulator serving {state}\n")
        for name, url in emulator.hsm_urls.items():
            stdout.write(f"  hsm {name}: {url}\n")
        stdout.write(f"  arm:   {emulator.arm_url}\n")
        stdout.write(f"  graph: {emulator.arm_url}\n")
        stdout.write(f"  tenant: {emulator.tenant_id}   identity: {emulator.identity_oid}\n")
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
