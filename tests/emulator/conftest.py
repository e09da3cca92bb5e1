"""Fixtures: a state file, a running emulator on fresh ports, and real SDK clients pointed at it."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from azure.keyvault.administration import KeyVaultAccessControlClient
from azure.keyvault.keys import KeyClient

from hsmsync.core.state import DataRoleAssignment, HsmState, LiveState
from hsmsync_emulator import Emulator, FaultConfig, start_emulator
from hsmsync_emulator.dataplane import LATEST_API_VERSION
from hsmsync_files.statefile import read_state_file, write_state_file
from tests.signin import EmulatorCredential, token_for

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
HSM_RESOURCE_ID = f"/subscriptions/{SUB}/resourceGroups/AppRG/providers/Microsoft.KeyVault/managedHSMs/Hsm1"
ADMIN = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88"
AUDITOR = "aaaaaaaa-0000-4000-8000-000000000002"
KEY_USER = "aaaaaaaa-0000-4000-8000-000000000003"
GROUP = "bbbbbbbb-0000-4000-8000-000000000001"
OTHER = "cccccccc-0000-4000-8000-000000000009"

ADMINISTRATOR = "a290e904-7015-4bba-90c8-60543313cdb4"
CRYPTO_USER = "21dbd100-6940-42c2-9190-5d6cb909625b"
CRYPTO_AUDITOR = "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3"
POLICY_ADMIN = "4bd23610-cdcf-4971-bdee-bdc562cc28e4"
BACKUP_USER = "7b127d3c-77bd-4e3e-bbe0-dbb8971fa7f8"
DEF_PREFIX = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"


def _ra(n: int, scope: str, role: str, principal: str) -> DataRoleAssignment:
    return DataRoleAssignment(
        name=f"e0c1d2a3-0000-4000-8000-{n:012d}", scope=scope, role_definition_id=role, principal_id=principal
    )


def base_state() -> LiveState:
    """hsm1: ADMIN is Administrator + Crypto User at '/', AUDITOR audits, KEY_USER uses key k1 only."""
    hsm1 = HsmState(
        url="https://hsm1.managedhsm.azure.net",
        resource_id=HSM_RESOURCE_ID,
        initial_admin_object_ids=(ADMIN,),
        keys=("k1", "k2"),
        role_assignments=(
            _ra(1, "/", ADMINISTRATOR, ADMIN),
            _ra(2, "/", CRYPTO_USER, ADMIN),
            _ra(3, "/", CRYPTO_AUDITOR, AUDITOR),
            _ra(4, "/keys/k1", CRYPTO_USER, KEY_USER),
        ),
    )
    hsm2 = HsmState(url="https://hsm2.managedhsm.azure.net", initial_admin_object_ids=(OTHER,))
    return LiveState(tenant_id=TENANT, hsms={"hsm1": hsm1, "hsm2": hsm2})


@pytest.fixture(autouse=True)
def _clear_challenge_caches() -> Iterator[None]:
    from azure.keyvault.administration._internal import http_challenge_cache as admin_cache
    from azure.keyvault.keys._shared import http_challenge_cache as keys_cache

    admin_cache.clear()
    keys_cache.clear()
    yield
    admin_cache.clear()
    keys_cache.clear()


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    write_state_file(path, base_state())
    return path


StartEmulator = Callable[..., Emulator]


@pytest.fixture
def start(tmp_path: Path, state_file: Path) -> Iterator[StartEmulator]:
    """Start an emulator on the test's state file (no throttle unless asked); stopped after the test."""
    running: list[Emulator] = []

    def _start(faults: FaultConfig | None = None, **kwargs: Any) -> Emulator:
        emu = start_emulator(
            kwargs.pop("state_path", state_file),
            faults=faults or FaultConfig(throttle=0),
            workdir=tmp_path / f"emu{len(running)}",
            **kwargs,
        )
        running.append(emu)
        return emu

    yield _start
    for emu in running:
        emu.stop()


@pytest.fixture
def emu(start: StartEmulator) -> Emulator:
    return start()


def acl(
    emu: Emulator, oid: str = ADMIN, groups: tuple[str, ...] = (), hsm: str = "hsm1", **kwargs: Any
) -> KeyVaultAccessControlClient:
    return KeyVaultAccessControlClient(
        emu.hsm_urls[hsm],
        EmulatorCredential(emu, oid, groups),
        verify_challenge_resource=False,
        connection_verify=str(emu.ca_cert_path),
        **kwargs,
    )


def key_client(emu: Emulator, oid: str = ADMIN, hsm: str = "hsm1", **kwargs: Any) -> KeyClient:
    return KeyClient(
        emu.hsm_urls[hsm],
        EmulatorCredential(emu, oid),
        verify_challenge_resource=False,
        connection_verify=str(emu.ca_cert_path),
        **kwargs,
    )


def raw(
    emu: Emulator,
    method: str,
    path: str,
    *,
    oid: str | None = ADMIN,
    groups: tuple[str, ...] = (),
    hsm: str | None = "hsm1",
    json_body: Any = None,
    token: str | None = None,
) -> requests.Response:
    """A plain HTTPS call (no SDK) with a bearer token for `oid` (None: no Authorization header).
    On an HSM the path gets the latest api-version unless it names one (as every client sends one)."""
    base = emu.hsm_urls[hsm] if hsm else emu.arm_url
    if hsm and "api-version=" not in path:
        path += f"{'&' if '?' in path else '?'}api-version={LATEST_API_VERSION}"
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    elif oid is not None:
        resource = "https://managedhsm.azure.net" if hsm else "https://management.azure.com"
        if not hsm and path.lower().startswith("/v1.0/"):
            resource = "https://graph.microsoft.com"
        headers["Authorization"] = f"Bearer {token_for(emu, oid, groups, resource)}"
    return requests.request(
        method, base + path, headers=headers, json=json_body, verify=str(emu.ca_cert_path), timeout=10
    )


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send_raw(
    emu: Emulator,
    method: str,
    path: str,
    *,
    hsm: str = "hsm1",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> RawAnswer:
    """Send `path` byte for byte (requests would collapse `///providers` to `/providers`)."""
    parts = urlsplit(emu.hsm_urls[hsm])
    context = ssl.create_default_context(cafile=str(emu.ca_cert_path))
    conn = http.client.HTTPSConnection(parts.hostname or "127.0.0.1", parts.port, context=context, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        return RawAnswer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def saved(path: Path) -> LiveState:
    return read_state_file(path)
