"""A local HTTPS emulator of the Managed HSM data plane and the ARM subset hsmsync uses.

It serves a state file (the `LiveState` format) so the real Azure SDK clients can be driven
against it; every change is written back to that file. See ASSUMPTIONS.md for what the public
material does not settle and the emulator had to decide.

A package of its own, beside the product: it imports of `hsmsync` only the pure core (the state
models, the role catalog, capabilities, limits) and the state file's shared persistence
(`hsmsync_files`), and the product imports nothing of it but the `hsmsync emulator` command
(import-linter checks both). Tests and that command use the names exported here.
"""

from __future__ import annotations

from hsmsync_emulator.cli import ServeSpecs, run_emulator_cli
from hsmsync_emulator.faults import FaultConfig, parse_faults
from hsmsync_emulator.replica import PRIMARY_REGION, REPLICA_REGION, ReplicaConfig, parse_replica
from hsmsync_emulator.runtime import Emulator, start_emulator
from hsmsync_emulator.tokens import (
    FEDERATION_AUDIENCE,
    GITHUB_ISSUER,
    PIPELINES_ISSUER,
    TokenAuthority,
    decode_claims,
    resource_of,
)

__all__ = [
    "FEDERATION_AUDIENCE",
    "GITHUB_ISSUER",
    "PIPELINES_ISSUER",
    "PRIMARY_REGION",
    "REPLICA_REGION",
    "Emulator",
    "FaultConfig",
    "ReplicaConfig",
    "ServeSpecs",
    "TokenAuthority",
    "decode_claims",
    "parse_faults",
    "parse_replica",
    "resource_of",
    "run_emulator_cli",
    "start_emulator",
]
