"""Fixtures for end-to-end tests of the live backend against helper-1's local emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync.backends.azure import AzureBackend, make_azure_backend
from hsmsync.backends.base import HsmRef, ReadRequest
from hsmsync.core.state import ArmRoleAssignment, ArmState, DataRoleAssignment, HsmState, LiveState
from hsmsync_emulator import parse_faults, start_emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import sign_in_as, with_sign_in

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
HSM = "contoso"
HSM_URL = "https://contoso.managedhsm.azure.net"
HSM_RID = f"/subscriptions/{SUB}/resourceGroups/rg-hsm/providers/Microsoft.KeyVault/managedHSMs/contoso"
ADMIN = "0a1b2c3d-0000-4000-8000-000000000001"  # the identity hsmsync runs as
APP = "0a1b2c3d-0000-4000-8000-000000000002"
GROUP = "0a1b2c3d-0000-4000-8000-000000000003"
OUTSIDER = "0a1b2c3d-0000-4000-8000-000000000009"  # not in the manifest
READER = "0a1b2c3d-0000-4000-8000-000000000004"  # can read RBAC, cannot write it

ADMINISTRATOR = "a290e904-7015-4bba-90c8-60543313cdb4"
CRYPTO_AUDITOR = "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3"
CRYPTO_USER = "21dbd100-6940-42c2-9190-5d6cb909625b"
CONTRIBUTOR = "18500a29-7fe2-46b2-a342-b16a415e101d"
KEYS = ("k1", "k2", "k3")


def _assignment(name: str, scope: str, role: str, principal: str) -> DataRoleAssignment:
    return DataRoleAssignment(name=name, scope=scope, role_definition_id=role, principal_id=principal)


def initial_state() -> LiveState:
    hsm = HsmState(
        url=HSM_URL,
        resource_id=HSM_RID,
        initial_admin_object_ids=(ADMIN,),
        role_assignments=(
            _assignment("00000000-0000-4000-8000-00000000a001", "/", ADMINISTRATOR, ADMIN),
            # Full discovery lists keys: that needs keys/read/action, which Administrator lacks.
            _assignment("00000000-0000-4000-8000-00000000a002", "/", CRYPTO_AUDITOR, ADMIN),
            _assignment("00000000-0000-4000-8000-00000000a003", "/", CRYPTO_AUDITOR, READER),
            # Someone the manifest does not know, at one key: only full discovery finds it.
            _assignment("00000000-0000-4000-8000-00000000a004", "/keys/k2", CRYPTO_USER, OUTSIDER),
        ),
        keys=KEYS,
    )
    outsider = ArmRoleAssignment(
        name="00000000-0000-4000-8000-00000000b001",
        scope=HSM_RID,
        role_definition_id=CONTRIBUTOR,
        principal_id=OUTSIDER,
        principal_type="Group",
    )
    return LiveState(tenant_id=TENANT, hsms={HSM: hsm}, arm=ArmState(role_assignments=(outsider,)))


def request(
    *, full: bool = True, principals: tuple[str, ...] = (ADMIN, APP, GROUP), arm_full: bool = False
) -> ReadRequest:
    return ReadRequest(
        hsms=(HsmRef(HSM, HSM_URL, HSM_RID),),
        arm_scopes=(HSM_RID,),
        principal_ids=principals,
        key_scopes={HSM: ("k1",)},
        full_discovery=frozenset({HSM} if full else ()),
        arm_full_discovery=arm_full,
    )


# The emulator runs with throttle=0 here, so client pacing is lifted too.
FAST_ENV = {
    "HSMSYNC_RETRY_BACKOFF": "0.01",
    "HSMSYNC_PRINCIPAL_WAIT_SECONDS": "0.5",
    "HSMSYNC_HSM_RATE": "1000",
    "HSMSYNC_ARM_RATE": "1000",
}


def endpoints_for(emulator: Any, path: Path, *, oid: str = ADMIN) -> Path:
    """The emulator's endpoints file; hsmsync signs in as `oid` (with_sign_in / run_cli)."""
    emulator.write_endpoints(path)
    sign_in_as(emulator, oid)
    return path


def emulator_for(tmp_path: Path, faults: str | None = None) -> Any:
    state_path = tmp_path / "state.json"
    write_state_file(state_path, initial_state())
    return start_emulator(state_path, faults=parse_faults(faults) if faults else None)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Any]:
    # throttle=0: the default 5 RBAC ops/s token bucket only slows these tests down.
    with emulator_for(tmp_path, faults="throttle=0") as emu:
        yield emu


@pytest.fixture
def backend(emulator: Any, tmp_path: Path) -> Iterator[AzureBackend]:
    with make_azure_backend(
        endpoints=endpoints_for(emulator, tmp_path / "endpoints.json"), environ=with_sign_in(FAST_ENV)
    ) as b:
        yield b
