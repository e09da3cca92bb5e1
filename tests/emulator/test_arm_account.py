"""ARM's account endpoints (issue 13 §2): the cloud metadata without a token, `/subscriptions` and
`/tenants` through the real SubscriptionClient (every api-version it ships), api-version checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.resource.subscriptions import SubscriptionClient

from hsmsync.core.state import ArmRoleAssignment, ArmState
from hsmsync.core.state_directory import DirectoryObject
from hsmsync_emulator import Emulator, FaultConfig
from hsmsync_files.statefile import write_state_file
from tests.signin import EmulatorCredential

from .conftest import ADMIN, SUB, TENANT, StartEmulator, base_state, raw

SUB_2 = "3a7d9e1b-0000-4c3e-9f5a-7b9d1e3f5a78"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
# Every api-version azure-mgmt-resource's multi-API SubscriptionClient ships.
CLIENT_VERSIONS = ("2016-06-01", "2018-06-01", "2019-06-01", "2019-11-01", "2021-01-01", "2022-12-01")


@pytest.fixture
def two_subscriptions(tmp_path: Path, start: StartEmulator) -> Emulator:
    """hsm1 in SUB; an ARM role assignment in SUB_2 (the emulator derives the subscriptions from both)."""
    assignment = ArmRoleAssignment(
        name="f1000000-0000-4000-8000-000000000001",
        scope=f"/subscriptions/{SUB_2}/resourceGroups/other",
        role_definition_id=READER,
        principal_id=ADMIN,
        principal_type="User",
    )
    state = base_state().model_copy(
        update={
            "arm": ArmState(role_assignments=(assignment,)),
            "directory": (
                DirectoryObject(
                    id=ADMIN, type="User", display_name="Admin", user_principal_name="admin@fabrikam.example"
                ),
            ),
        }
    )
    path = tmp_path / "two-subscriptions.json"
    write_state_file(path, state)
    return start(faults=FaultConfig(throttle=0, page_size=1), state_path=path)


def _client(emu: Emulator, api_version: str) -> SubscriptionClient:
    return SubscriptionClient(
        EmulatorCredential(emu, ADMIN),
        base_url=emu.arm_url,
        api_version=api_version,
        connection_verify=str(emu.ca_cert_path),
    )


@pytest.mark.parametrize("api_version", CLIENT_VERSIONS)
def test_subscriptions_and_tenants_through_the_subscription_client(
    two_subscriptions: Emulator, api_version: str
) -> None:
    with _client(two_subscriptions, api_version) as client:
        subs = list(client.subscriptions.list())  # page size 1: the nextLink is followed
        assert [(s.subscription_id, s.id, s.state) for s in subs] == [
            (SUB, f"/subscriptions/{SUB}", "Enabled"),
            (SUB_2, f"/subscriptions/{SUB_2}", "Enabled"),
        ]
        assert all(s.display_name for s in subs)
        one = client.subscriptions.get(SUB_2.upper())
        assert (one.subscription_id, one.id) == (SUB_2, f"/subscriptions/{SUB_2}")
        with pytest.raises(ResourceNotFoundError) as missing:
            client.subscriptions.get("00000000-0000-4000-8000-00000000dead")
        assert missing.value.error.code == "SubscriptionNotFound"
        tenants = list(client.tenants.list())
        assert [(t.tenant_id, t.id) for t in tenants] == [(TENANT, f"/tenants/{TENANT}")]


def test_newer_versions_carry_the_tenant_and_its_domain(two_subscriptions: Emulator) -> None:
    with _client(two_subscriptions, "2022-12-01") as client:
        assert {s.tenant_id for s in client.subscriptions.list()} == {TENANT}
        (tenant,) = client.tenants.list()
        assert (tenant.default_domain, tenant.domains, tenant.tenant_category) == (
            "fabrikam.example",
            ["fabrikam.example"],
            "Home",
        )


def test_a_state_naming_no_subscription_lists_none(emu: Emulator) -> None:
    """base_state's hsm2 has no resource id; hsm1's names SUB: one subscription, no invented ones."""
    with _client(emu, "2022-12-01") as client:
        assert [s.subscription_id for s in client.subscriptions.list()] == [SUB]


@pytest.mark.parametrize("path", ["/subscriptions", f"/subscriptions/{SUB}", "/tenants"])
def test_api_version_is_required_and_checked(emu: Emulator, path: str) -> None:
    missing = raw(emu, "GET", path, hsm=None)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    wrong = raw(emu, "GET", f"{path}?api-version=2099-01-01", hsm=None)
    assert wrong.status_code == 400
    error = wrong.json()["error"]
    assert error["code"] == "InvalidApiVersionParameter"
    assert "'2099-01-01'" in error["message"] and "2022-12-01" in error["message"]


def test_account_endpoints_need_a_token_and_are_read_only(emu: Emulator) -> None:
    anonymous = raw(emu, "GET", "/subscriptions?api-version=2022-12-01", hsm=None, oid=None)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "AuthenticationFailed"
    put = raw(emu, "PUT", "/tenants?api-version=2022-12-01", hsm=None, json_body={})
    assert put.status_code == 405


# ------------------------------------------------------------------------------------ cloud metadata


def _metadata(emu: Emulator, query: str) -> requests.Response:
    return requests.get(f"{emu.arm_url}/metadata/endpoints{query}", verify=str(emu.ca_cert_path), timeout=10)


def test_cloud_metadata_needs_no_token_and_points_at_the_emulator(emu: Emulator) -> None:
    answer = _metadata(emu, "?api-version=2022-09-01")  # what `az cloud register` asks for
    assert answer.status_code == 200
    cloud = answer.json()
    assert cloud["resourceManager"] == emu.arm_url + "/"
    assert cloud["authentication"]["loginEndpoint"] == emu.authority_url
    assert cloud["authentication"]["audiences"][0] == "https://management.core.windows.net/"
    assert cloud["microsoftGraphResourceId"] == emu.arm_url + "/"
    assert cloud["suffixes"] == {"keyVaultDns": "", "mhsmDns": ""}
    # Nothing in it leads a client to a real Azure host: every URL but the token audiences is ours.
    urls = set(re.findall(r'"(https://[^"]*)"', answer.text)) - set(cloud["authentication"]["audiences"])
    assert urls and all(u.startswith((emu.arm_url, emu.authority_url)) for u in urls)


@pytest.mark.parametrize("version", ["2019-05-01", "2020-06-01"])
def test_cloud_metadata_lists_clouds_in_the_older_versions(emu: Emulator, version: str) -> None:
    clouds = _metadata(emu, f"?api-version={version}").json()
    assert isinstance(clouds, list) and len(clouds) == 1
    assert clouds[0]["resourceManager"] == emu.arm_url + "/"


def test_cloud_metadata_classic_shape(emu: Emulator) -> None:
    classic = _metadata(emu, "?api-version=2015-01-01").json()
    assert classic["authentication"]["loginEndpoint"] == emu.authority_url + "/"
    assert classic["authentication"]["audiences"] == [
        "https://management.core.windows.net/",
        "https://management.azure.com/",
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [("", "MissingApiVersionParameter"), ("?api-version=2099-01-01", "InvalidApiVersionParameter")],
)
def test_cloud_metadata_checks_the_api_version(emu: Emulator, query: str, code: str) -> None:
    answer = _metadata(emu, query)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert answer.headers["x-ms-request-id"]
