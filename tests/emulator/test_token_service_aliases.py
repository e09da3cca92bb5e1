"""The token service's multi-tenant authorities (`common`, `organizations`): discovery and keys as Entra
serves them, which MSAL reads before anything else (`az logout` of a service principal builds an
`/organizations` app); tokens are still signed only at the emulator's own tenant."""

from __future__ import annotations

import msal  # type: ignore[import-untyped]
import pytest
import requests

from hsmsync_emulator import Emulator

AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


@pytest.mark.parametrize("alias", ["organizations", "common"])
def test_msal_reads_the_discovery_of_a_multi_tenant_authority(emu: Emulator, alias: str) -> None:
    session = requests.Session()
    session.verify = str(emu.ca_cert_path)
    session.trust_env = False  # else requests prefers a REQUESTS_CA_BUNDLE from the environment
    app = msal.PublicClientApplication(
        AZURE_CLI_CLIENT_ID,
        authority=f"{emu.authority_url}/{alias}",
        instance_discovery=False,
        http_client=session,
    )
    assert app.authority.token_endpoint == f"{emu.authority_url}/{alias}/oauth2/v2.0/token"
    discovery = requests.get(
        f"{emu.authority_url}/{alias}/v2.0/.well-known/openid-configuration",
        verify=str(emu.ca_cert_path),
        timeout=10,
    ).json()
    assert discovery["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"  # as Entra's
    keys = requests.get(
        f"{emu.authority_url}/{alias}/discovery/v2.0/keys", verify=str(emu.ca_cert_path), timeout=10
    ).json()
    assert keys["keys"] == [emu.authority.key.jwk()]


def test_no_token_is_signed_at_a_multi_tenant_authority(emu: Emulator) -> None:
    answer = requests.post(
        f"{emu.authority_url}/organizations/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": AZURE_CLI_CLIENT_ID, "client_secret": "x"},
        verify=str(emu.ca_cert_path),
        timeout=10,
    )
    assert answer.status_code == 400
    assert "access_token" not in answer.json()


def test_other_tenants_are_still_unknown(emu: Emulator) -> None:
    answer = requests.get(
        f"{emu.authority_url}/consumers-not-a-tenant/v2.0/.well-known/openid-configuration",
        verify=str(emu.ca_cert_path),
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error_codes"] == [90002]
