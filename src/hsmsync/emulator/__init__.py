"""A local HTTPS emulator of the Managed HSM data plane and the ARM subset hsmsync uses.

It serves a state file (the `LiveState` format) so the real Azure SDK clients can be driven
against it; every change is written back to that file. See ASSUMPTIONS.md for what the public
material does not settle and the emulator had to decide.
"""

from __future__ import annotations

from hsmsync.emulator.cli import run_emulator_cli
from hsmsync.emulator.faults import FaultConfig, parse_faults
from hsmsync.emulator.runtime import Emulator, start_emulator
from hsmsync.emulator.tokens import TokenAuthority, decode_claims

__all__ = [
    "Emulator",
    "FaultConfig",
    "TokenAuthority",
    "decode_claims",
    "parse_faults",
    "run_emulator_cli",
    "start_emulator",
]
