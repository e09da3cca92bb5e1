"""`make test-compat-cli`: the real Azure CLI (its own virtualenv, a pinned `azure-cli` from the
package index) against the emulator, each answer checked against what Azure does.

    python -m tests.compat.azure_cli --az .venv-azcli/bin/az

The emulator runs in this process, on a state it writes to a temporary folder: one Managed HSM in a
subscription, a directory (a user, a group, the pipeline's service principal, an outsider) and a
token service that signs in the pipeline (Administrator at `/`) and the outsider (no role) with
client secrets. The CLI gets its own configuration folder there (`AZURE_CONFIG_DIR`; the user's own
`~/.azure` is never read or written), trusts the emulator's CA (`REQUESTS_CA_BUNDLE`), registers
the emulator as a custom cloud from its `/metadata/endpoints` and signs in as the pipeline.

Prints one line per check and `N passed, M failed`; exits 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hsmsync.core.state import DataRoleAssignment, HsmState, LiveState
from hsmsync.core.state_directory import DirectoryObject, SignInApplication, SignInDirectory
from hsmsync_emulator import Emulator, FaultConfig, start_emulator
from hsmsync_files.statefile import write_state_file

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
PIPELINE = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88"  # the service principal the CLI signs in as
PIPELINE_APP = "5e0c3f7a-0000-4000-8000-00000000de70"
OUTSIDER = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f99"  # signs in, holds no role
OUTSIDER_APP = "5e0c3f7a-0000-4000-8000-00000000de71"
ALICE = "aaaaaaaa-0000-4000-8000-000000000003"
OPS = "bbbbbbbb-0000-4000-8000-000000000001"
ADMINISTRATOR = "a290e904-7015-4bba-90c8-60543313cdb4"
CRYPTO_USER = "21dbd100-6940-42c2-9190-5d6cb909625b"
CLOUD = "HsmsyncEmulator"


@dataclass(frozen=True)
class Answer:
    """One CLI run: exit code, the JSON it printed (None when nothing), its error output."""

    rc: int
    out: Any
    err: str

    def expect(self, rc: int = 0) -> Any:
        if self.rc != rc:
            raise AssertionError(f"exit code {self.rc}, expected {rc}: {self.err.strip()[:300]}")
        return self.out


class AzureCli:
    """Runs `az` with a clean environment of its own (configuration folder, CA, no telemetry)."""

    def __init__(self, az: Path, emulator: Emulator, config_dir: Path) -> None:
        self.az = az
        config_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(config_dir),
            "LANG": "C.UTF-8",
            "AZURE_CONFIG_DIR": str(config_dir),
            "REQUESTS_CA_BUNDLE": str(emulator.ca_cert_path),
            # The emulator's token service is not a known Entra host: MSAL must not ask public Azure
            # about it (the setting Azure Stack uses).
            "AZURE_CORE_INSTANCE_DISCOVERY": "false",
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_OUTPUT": "json",
            "AZURE_CORE_NO_COLOR": "true",
            "AZURE_CORE_SURVEY_MESSAGE": "false",
        }

    def __call__(self, *args: str) -> Answer:
        proc = subprocess.run(
            [str(self.az), *args, "--only-show-errors"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        out = json.loads(proc.stdout) if proc.stdout.strip() else None
        return Answer(proc.returncode, out, proc.stderr)


@dataclass
class World:
    """What the checks share: the emulator, the CLI signed in as the pipeline, the HSM's address."""

    emulator: Emulator
    az: AzureCli
    outsider: AzureCli
    secrets: dict[str, str]
    work: Path
    notes: dict[str, str] = field(default_factory=dict)  # what a check leaves for later ones

    @property
    def hsm_url(self) -> str:
        return self.emulator.hsm_urls["hsm1"]

    @property
    def hsm_name(self) -> str:
        """What `--hsm-name` takes: the cloud has no HSM DNS suffix, so the host and port."""
        return self.hsm_url.removeprefix("https://")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build_state(path: Path) -> dict[str, str]:
    """The state the emulator serves; returns the client secrets (generated, never printed)."""
    keys = {"pipeline": secrets.token_urlsafe(16), "outsider": secrets.token_urlsafe(16)}
    hsm = HsmState(
        url="https://hsm1.managedhsm.azure.net",
        resource_id=f"/subscriptions/{SUB}/resourceGroups/security/providers/Microsoft.KeyVault/managedHSMs/hsm1",
        initial_admin_object_ids=(PIPELINE,),
        keys=("k1",),
        role_assignments=(
            DataRoleAssignment(
                name="e0c1d2a3-0000-4000-8000-000000000001",
                scope="/",
                role_definition_id=ADMINISTRATOR,
                principal_id=PIPELINE,
            ),
        ),
    )
    directory = (
        DirectoryObject(id=PIPELINE, type="ServicePrincipal", display_name="hsmsync pipeline"),
        DirectoryObject(id=OUTSIDER, type="ServicePrincipal", display_name="outsider"),
        DirectoryObject(id=ALICE, type="User", display_name="Alice", user_principal_name="alice@contoso.com"),
        DirectoryObject(id=OPS, type="Group", display_name="Ops"),
    )
    applications = (
        SignInApplication(
            client_id=PIPELINE_APP, object_id=PIPELINE, client_secret_sha256=(_sha256(keys["pipeline"]),)
        ),
        SignInApplication(
            client_id=OUTSIDER_APP, object_id=OUTSIDER, client_secret_sha256=(_sha256(keys["outsider"]),)
        ),
    )
    state = LiveState(
        tenant_id=TENANT,
        hsms={"hsm1": hsm},
        directory=directory,
        sign_in=SignInDirectory(applications=applications),
    )
    write_state_file(path, state)
    return keys


Check = Callable[[World], None]


def run_checks(world: World, checks: list[tuple[str, Check]], log: Callable[[str], None]) -> tuple[int, int]:
    """Each check in order (later ones build on earlier ones); returns (passed, failed)."""
    passed = failed = 0
    for name, check in checks:
        started = time.monotonic()
        try:
            check(world)
        except Exception as exc:  # noqa: BLE001 - a failed check is reported, the run goes on
            failed += 1
            log(f"FAIL {name}: {type(exc).__name__}: {exc}")
            continue
        passed += 1
        log(f"pass {name} ({time.monotonic() - started:.1f}s)")
    return passed, failed


def azure_cli_version(az: Path) -> str:
    proc = subprocess.run([str(az), "version"], capture_output=True, text=True, timeout=120, check=False)
    try:
        return str(json.loads(proc.stdout)["azure-cli"])
    except (ValueError, KeyError):
        return "unknown"


def log(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    from tests.compat.azure_cli_checks import CHECKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--az", type=Path, required=True, help="the az executable to test")
    args = parser.parse_args(argv)
    if not args.az.is_file():
        sys.stderr.write(f"error: --az {args.az}: no such file (run `make test-compat-cli`)\n")
        return 1
    version = azure_cli_version(args.az)
    with tempfile.TemporaryDirectory(prefix="hsmsync-compat-cli-") as tmp:
        work = Path(tmp)
        keys = build_state(work / "state.json")
        with start_emulator(work / "state.json", workdir=work / "emu", faults=FaultConfig(throttle=0)) as emu:
            world = World(
                emulator=emu,
                az=AzureCli(args.az, emu, work / "az-pipeline"),
                outsider=AzureCli(args.az, emu, work / "az-outsider"),
                secrets=keys,
                work=work,
            )
            log(f"Azure CLI {version} against the hsmsync emulator ({len(CHECKS)} checks)")
            passed, failed = run_checks(world, CHECKS, log)
    log(f"Azure CLI {version}: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
