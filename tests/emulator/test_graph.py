"""The emulator's minimal Graph (ARM port, `/v1.0/...`) and ARM's PrincipalNotFound from `directory`."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from hsmsync.core.state_directory import DirectoryObject
from hsmsync_emulator import Emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import EmulatorCredential

from .conftest import ADMIN, HSM_RESOURCE_ID, OTHER, SUB, TENANT, StartEmulator, base_state, raw, saved

CONTRIBUTOR = "18500a29-7fe2-46b2-a342-b16a415e101d"
TWIN_A = "dddddddd-0000-4000-8000-000000000001"
TWIN_B = "dddddddd-0000-4000-8000-000000000002"
ALICE = "dddddddd-0000-4000-8000-000000000003"
APP = "dddddddd-0000-4000-8000-000000000004"
DIRECTORY = (
    DirectoryObject(id=ADMIN, type="User", display_name="HSM Admin", user_principal_name="admin@contoso.com"),
    DirectoryObject(
        id=ALICE, type="User", display_name="Alice O'Brien", user_principal_name="alice@contoso.com"
    ),
    DirectoryObject(id=TWIN_A, type="Group", display_name="Platform Engineers"),
    DirectoryObject(id=TWIN_B, type="Group", display_name="platform engineers"),
    DirectoryObject(id=APP, type="ServicePrincipal", display_name="Platform Engineers"),
)


@pytest.fixture
def graph(tmp_path: Path, start: StartEmulator) -> Emulator:
    path = tmp_path / "directory-state.json"
    write_state_file(path, base_state().model_copy(update={"directory": DIRECTORY}))
    return start(state_path=path)


def _get(emu: Emulator, path: str, **kwargs: object) -> tuple[int, dict[str, object]]:
    r = raw(emu, "GET", path, hsm=None, **kwargs)
    return r.status_code, r.json()


def test_filters_by_display_name_case_insensitively_per_type(graph: Emulator) -> None:
    status, body = _get(
        graph, "/v1.0/groups?$filter=displayName eq 'Platform Engineers'&$select=id,displayName"
    )
    assert status == 200
    assert body["value"] == [
        {"id": TWIN_A, "displayName": "Platform Engineers"},
        {"id": TWIN_B, "displayName": "platform engineers"},
    ]
    assert str(body["@odata.context"]).endswith("/v1.0/$metadata#groups(id,displayName)")
    assert "@odata.nextLink" not in body
    _, sps = _get(graph, "/v1.0/servicePrincipals?$filter=displayName eq 'platform engineers'")
    assert sps["value"] == [{"id": APP, "displayName": "Platform Engineers"}]


def test_users_by_upn_with_doubled_quotes_and_select(graph: Emulator) -> None:
    status, body = _get(graph, "/v1.0/users?$filter=userPrincipalName eq 'ALICE@contoso.com'")
    assert status == 200
    assert body["value"] == [
        {"id": ALICE, "displayName": "Alice O'Brien", "userPrincipalName": "alice@contoso.com"}
    ]
    _, by_name = _get(graph, "/v1.0/users?$filter=displayName eq 'Alice O''Brien'&$select=displayName")
    assert by_name["value"] == [{"id": ALICE, "displayName": "Alice O'Brien"}]


@pytest.mark.parametrize(
    "query",
    [
        "/v1.0/groups?$filter=startswith(displayName,'Plat')",
        "/v1.0/groups?$filter=displayName eq 'a' or displayName eq 'b'",
        "/v1.0/groups?$filter=userPrincipalName eq 'x@y'",
        "/v1.0/users?$filter=mail eq 'alice@contoso.com'",
    ],
)
def test_other_filters_are_400(graph: Emulator, query: str) -> None:
    status, body = _get(graph, query)
    assert status == 400
    assert body["error"]["code"] == "Request_UnsupportedQuery"


def test_paging_with_next_link(graph: Emulator) -> None:
    status, first = _get(graph, "/v1.0/users?$top=1&$select=id")
    assert status == 200 and first["value"] == [{"id": ADMIN}]
    link = str(first["@odata.nextLink"])
    assert link.startswith(graph.arm_url + "/v1.0/users?") and "$skiptoken=1" in link
    status, second = _get(graph, link.removeprefix(graph.arm_url))
    assert second["value"] == [{"id": ALICE}] and "@odata.nextLink" not in second


def test_bearer_token_required(graph: Emulator) -> None:
    r = raw(graph, "GET", "/v1.0/groups", hsm=None, oid=None)
    assert r.status_code == 401
    assert "Bearer" in r.headers["WWW-Authenticate"]


def test_without_directory_graph_says_so(emu: Emulator) -> None:
    status, body = _get(emu, "/v1.0/groups?$filter=displayName eq 'x'")
    assert status == 501
    assert "no `directory`" in body["error"]["message"]


def _authz(emu: Emulator) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(
        EmulatorCredential(emu, ADMIN),
        SUB,
        base_url=emu.arm_url,
        connection_verify=str(emu.ca_cert_path),
    )


def _params(principal: str) -> RoleAssignmentCreateParameters:
    return RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
        principal_id=principal,
        principal_type="ServicePrincipal",
    )


def test_arm_principal_not_found_with_a_directory(graph: Emulator) -> None:
    client = _authz(graph)
    with pytest.raises(HttpResponseError) as info:
        client.role_assignments.create(HSM_RESOURCE_ID, str(uuid.uuid4()), _params(OTHER))
    assert info.value.status_code == 400
    assert info.value.error is not None and info.value.error.code == "PrincipalNotFound"
    assert f"Principal {OTHER.replace('-', '')} does not exist in the directory {TENANT}." in str(
        info.value.message
    )
    assert saved(graph.state_path).arm.role_assignments == ()
    # a principal the directory holds is assigned as before
    created = client.role_assignments.create(HSM_RESOURCE_ID, str(uuid.uuid4()), _params(APP))
    assert created.principal_id == APP


def test_arm_accepts_any_principal_without_a_directory(emu: Emulator) -> None:
    created = _authz(emu).role_assignments.create(HSM_RESOURCE_ID, str(uuid.uuid4()), _params(OTHER))
    assert created.principal_id == OTHER
