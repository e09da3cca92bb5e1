"""Replies of the wrong shape, through the real SDK clients, are clear errors naming the host.

The emulator's `reply=` faults answer every authenticated request with an HTML page (a proxy or
sign-in portal), JSON of the wrong shape, or a 401 challenge naming another authority and
resource. Each must end in a BackendError (exit 1), never an SDK exception (exit 3).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from hsmsync.backends.azure import AzureBackend, make_azure_backend
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.target import ARM, Target
from hsmsync_emulator import parse_faults
from tests.changes import flat_change
from tests.conftest import run_cli
from tests.live.conftest import (
    ADMIN,
    APP,
    CRYPTO_USER,
    FAST_ENV,
    HSM,
    HSM_RID,
    READER,
    endpoints_for,
    request,
)
from tests.signin import with_sign_in

FEW_RETRIES = {**FAST_ENV, "HSMSYNC_RETRY_TOTAL": "1"}
EXPECTED = {
    "html": "got ",
    "shape": "got DeserializationError",
    "challenge": "asks for a token with authorization 'https://login.example.org/",
}


def _backend(emulator: Any, tmp_path: Path) -> AzureBackend:
    endpoints = endpoints_for(emulator, tmp_path / "endpoints.json")  # signs in as ADMIN
    return make_azure_backend(endpoints=endpoints, environ=with_sign_in(FEW_RETRIES))


def _data_change(action: Action) -> Change:
    return flat_change(
        id="c1",
        action=action,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=Plane.DATA,
        target=Target.hsm(HSM),
        scope="/keys/k1",
        name="00000000-0000-4000-8000-00000000c001",
        role="Crypto User",
        role_id=CRYPTO_USER,
        reason="test",
        principal="app",
        principal_id=APP,
    )


def _arm_change() -> Change:
    return flat_change(
        id="c2",
        action=Action.DELETE,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=Plane.MANAGEMENT,
        target=ARM,
        scope=HSM_RID,
        name="00000000-0000-4000-8000-00000000b001",
        role="Contributor",
        role_id="18500a29-7fe2-46b2-a342-b16a415e101d",
        reason="test",
        principal="outsider",
        principal_id=READER,
    )


@pytest.mark.parametrize("reply", sorted(EXPECTED))
def test_discovery_names_the_host_and_what_was_expected(emulator: Any, tmp_path: Path, reply: str) -> None:
    emulator.set_faults(parse_faults(f"throttle=0,reply={reply}"))
    with _backend(emulator, tmp_path) as backend, pytest.raises(BackendError) as caught:
        backend.read_state(request())
    message = str(caught.value)
    assert emulator.hsm_urls[HSM] in message  # the host that answered
    assert EXPECTED[reply] in message
    if reply != "challenge":
        assert "expected Managed HSM data-plane JSON" in message


@pytest.mark.parametrize(
    ("action", "reply"),
    # A delete's reply body is not read: only its status and headers can be wrong.
    [(Action.CREATE, "html"), (Action.CREATE, "shape"), (Action.CREATE, "challenge")]
    + [(Action.DELETE, "html"), (Action.DELETE, "challenge")],
)
def test_data_plane_writes_name_the_host(emulator: Any, tmp_path: Path, action: Action, reply: str) -> None:
    with _backend(emulator, tmp_path) as backend:
        backend.read_state(request())
        emulator.set_faults(parse_faults(f"throttle=0,reply={reply}"))
        with pytest.raises(BackendError) as caught:
            backend.apply_change(_data_change(action))
    assert emulator.hsm_urls[HSM] in str(caught.value)
    if reply == "challenge":
        # The SDK answers the (mid-session) challenge by asking the credential for a token of the
        # tenant it names; a real credential refuses another tenant, so no token is requested.
        assert "not configured to acquire tokens for tenant 11111111-2222-3333-4444-555555555555" in str(
            caught.value
        )
    else:
        assert "unexpected reply from" in str(caught.value)


@pytest.mark.parametrize("reply", sorted(EXPECTED))
def test_arm_calls_name_the_host(emulator: Any, tmp_path: Path, reply: str) -> None:
    emulator.set_faults(parse_faults(f"throttle=0,reply={reply}"))
    with _backend(emulator, tmp_path) as backend, pytest.raises(BackendError) as caught:
        backend.apply_change(_arm_change())
    message = str(caught.value)
    assert emulator.arm_url in message
    assert EXPECTED[reply] in message
    if reply != "challenge":
        assert "expected Azure Resource Manager JSON" in message


def test_a_challenge_for_another_resource_is_refused_clearly(emulator: Any, tmp_path: Path) -> None:
    """With the challenge-resource check on, the SDK refuses a challenge whose resource does not
    match the host (here: the HSM resource, answered by 127.0.0.1) with a ValueError."""
    with _backend(emulator, tmp_path) as backend:
        settings = dataclasses.replace(backend.settings, verify_challenge_resource=True)
    emulator.clear_log()
    with AzureBackend(settings) as strict, pytest.raises(BackendError) as caught:
        strict.read_state(request())
    hsm_calls = [
        s for _, path, s in emulator.request_log if path.startswith("/providers/Microsoft.Authorization")
    ]
    assert hsm_calls and set(hsm_calls) == {401}  # only the unauthenticated probe: no token went out
    message = str(caught.value)
    assert f"{emulator.hsm_urls[HSM]} asked for a token for 'managedhsm.azure.net'" in message
    assert "no token was sent" in message and "verify_challenge_resource" not in message


def test_the_cli_exits_1_with_the_clear_error(emulator: Any, tmp_path: Path) -> None:
    endpoints_for(emulator, tmp_path / "endpoints.json", oid=ADMIN)
    (tmp_path / "hsmsync.yaml").write_text(
        "version: 1\n"
        f"principals:\n  admin: {{type: User, id: {ADMIN}}}\n"
        f"hsms:\n  {HSM}:\n    url: https://{HSM}.managedhsm.azure.net\n    resource_id: {HSM_RID}\n"
        "teams:\n  ops:\n    members: [admin]\n"
        f"    data:\n      - {{hsm: {HSM}, role: Administrator, scope: /}}\n",
        encoding="utf-8",
    )
    emulator.set_faults(parse_faults("throttle=0,reply=html"))
    result = run_cli("plan", "--live", "--endpoints", "endpoints.json", cwd=tmp_path, environ=FEW_RETRIES)
    assert result.exit_code == 1, result.stderr
    assert "unexpected reply from https://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
