"""Protocol details of the data plane, through the real SDK clients: api-version, response headers,
ids built from the host the client called (the HSM's Azure name), RSA public exponents."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline import PipelineResponse
from azure.keyvault.administration import KeyVaultAccessControlClient, KeyVaultRoleScope
from azure.keyvault.keys import KeyClient, KeyVaultKey

from hsmsync_emulator import Emulator, FaultConfig
from hsmsync_emulator.dataplane import API_VERSIONS, LATEST_API_VERSION
from tests.signin import EmulatorCredential, token_for

from .conftest import ADMIN, ADMINISTRATOR, DEF_PREFIX, StartEmulator, acl, key_client, send_raw

ASSIGNMENTS = "/providers/Microsoft.Authorization/roleAssignments"
ANSWER_ONLY = {"x-ms-keyvault-region", "x-ms-keyvault-network-info"}  # 2xx only, as recorded


@pytest.mark.parametrize("version", API_VERSIONS)
def test_every_supported_api_version_is_served(emu: Emulator, version: str) -> None:
    client = acl(emu, api_version=version)
    assert len(list(client.list_role_definitions(KeyVaultRoleScope.GLOBAL))) >= 9
    assert [k.name for k in key_client(emu, api_version=version).list_properties_of_keys()] == ["k1", "k2"]


@pytest.mark.parametrize("version", ["7.9", "7.1", "2016-10-01", "2025-07-01-preview", "latest"])
def test_an_unknown_api_version_is_400_bad_parameter_naming_it(emu: Emulator, version: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        list(acl(emu, api_version=version).list_role_assignments(KeyVaultRoleScope.GLOBAL))
    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == "BadParameter"
    message = caught.value.error.message or ""
    assert message.startswith(
        f"The specified version ({version}) is not recognized. "
        f"Consider using the latest supported version ({LATEST_API_VERSION})."
    )
    with pytest.raises(HttpResponseError) as on_keys:
        key_client(emu, api_version=version).get_key("k1")
    assert on_keys.value.status_code == 400 and f"({version})" in str(on_keys.value)


def test_a_missing_api_version_is_400_bad_parameter(emu: Emulator) -> None:
    # No SDK sends a request without one: the raw request stands for a hand-written client.
    token = token_for(emu, ADMIN)
    answer = send_raw(emu, "GET", ASSIGNMENTS, headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == "BadParameter"
    assert error["message"].startswith("The 'api-version' query parameter is required.")
    assert (
        send_raw(
            emu, "GET", f"{ASSIGNMENTS}?api-version=", headers={"Authorization": f"Bearer {token}"}
        ).status
        == 400
    )


def _headers_of(calls: list[dict[str, str]]) -> Callable[[PipelineResponse[Any, Any]], None]:
    def hook(response: PipelineResponse[Any, Any]) -> None:
        calls.append({k.lower(): v for k, v in response.http_response.headers.items()})

    return hook


def test_response_headers_are_served_as_recorded(emu: Emulator) -> None:
    client = acl(emu)
    got: list[dict[str, str]] = []
    list(client.list_role_definitions(KeyVaultRoleScope.GLOBAL, raw_response_hook=_headers_of(got)))
    listed = got[-1]
    assert listed["content-type"] == "application/json; charset=utf-8"
    assert listed["cache-control"] == "no-cache"
    assert listed["x-ms-request-id"] and listed["x-ms-server-latency"].isdigit()
    assert listed["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert listed["x-content-type-options"] == "nosniff" and listed["x-frame-options"] == "SAMEORIGIN"
    assert set(listed) >= ANSWER_ONLY and "x-ms-build-version" in listed  # a GET answered 200

    client.create_role_assignment(
        KeyVaultRoleScope.GLOBAL,
        DEF_PREFIX + ADMINISTRATOR,
        "dddddddd-0000-4000-8000-000000000001",
        raw_response_hook=_headers_of(got),
    )
    created = got[-1]
    assert set(created) >= ANSWER_ONLY and "x-ms-build-version" not in created  # a PUT answered 201

    with pytest.raises(ResourceNotFoundError):
        client.get_role_definition(KeyVaultRoleScope.GLOBAL, "dddddddd-0000-4000-8000-00000000dead")
    missing = send_raw(
        emu,
        "GET",
        f"/providers/Microsoft.Authorization/roleDefinitions/dddddddd-0000-4000-8000-00000000dead"
        f"?api-version={LATEST_API_VERSION}",
        headers={"Authorization": f"Bearer {token_for(emu, ADMIN)}"},
    )
    assert missing.status == 404  # a GET answered 404: build version, no region
    assert "x-ms-build-version" in missing.headers and not ANSWER_ONLY & set(missing.headers)
    challenge = send_raw(emu, "PUT", f"{ASSIGNMENTS}/x?api-version={LATEST_API_VERSION}")
    assert challenge.status == 401 and not (ANSWER_ONLY | {"x-ms-build-version"}) & set(challenge.headers)


@pytest.fixture
def hsm1_by_name(start: StartEmulator, monkeypatch: pytest.MonkeyPatch) -> tuple[Emulator, str]:
    """hsm1 called as in Azure, https://hsm1.managedhsm.azure.net (port 443), which this process
    resolves to the emulator; the emulator's certificate names that host."""
    emu = start(FaultConfig(throttle=0, page_size=1), tls_names=("hsm1.managedhsm.azure.net",))
    port = urlsplit(emu.hsm_urls["hsm1"]).port
    real = socket.getaddrinfo

    def resolve(host: Any, service: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hsm1.managedhsm.azure.net" and str(service) == "443":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, service, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return emu, "https://hsm1.managedhsm.azure.net"


def test_ids_and_next_links_name_the_host_the_client_called(hsm1_by_name: tuple[Emulator, str]) -> None:
    emu, url = hsm1_by_name
    # verify_challenge_resource stays on: the challenge names managedhsm.azure.net, as the host does.
    keys = KeyClient(url, EmulatorCredential(emu, ADMIN), connection_verify=str(emu.ca_cert_path))
    assert keys.get_key("k1").id.startswith(f"{url}/keys/k1/")
    assert keys.create_rsa_key("by-name", hardware_protected=True).id.startswith(f"{url}/keys/by-name/")
    # One key per page: every next link names the same host (else the SDK's challenge check refuses it).
    assert [k.name for k in keys.list_properties_of_keys()] == ["k1", "k2", "by-name"]
    admin = KeyVaultAccessControlClient(
        url, EmulatorCredential(emu, ADMIN), connection_verify=str(emu.ca_cert_path)
    )
    assert len(list(admin.list_role_definitions(KeyVaultRoleScope.GLOBAL))) >= 9


def test_a_foreign_host_header_is_not_echoed(emu: Emulator) -> None:
    headers = {"Authorization": f"Bearer {token_for(emu, ADMIN)}", "Host": "attacker.example"}
    answer = send_raw(emu, "GET", f"/keys/k1?api-version={LATEST_API_VERSION}", headers=headers)
    assert answer.status == 200
    assert answer.json()["key"]["kid"].startswith(emu.hsm_urls["hsm1"] + "/keys/k1/")


def test_rsa_keys_take_the_public_exponent_asked_for(emu: Emulator) -> None:
    keys = key_client(emu)
    created = keys.create_rsa_key("e17", hardware_protected=True, public_exponent=17)
    assert _exponent(created) == b"\x11"
    assert _exponent(keys.get_key("e17")) == b"\x11"
    assert _exponent(keys.create_rsa_key("e-default", hardware_protected=True)) == b"\x01\x00\x01"
    with pytest.raises(HttpResponseError) as caught:
        keys.create_rsa_key("e-even", hardware_protected=True, public_exponent=4)
    assert caught.value.status_code == 400 and "public_exponent" in str(caught.value)


def _exponent(key: KeyVaultKey) -> bytes:
    exponent: bytes = vars(key.key)["e"]  # JsonWebKey sets its fields dynamically
    return exponent
