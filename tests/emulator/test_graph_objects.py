"""Graph as the Azure CLI reads it (issue 13 §2): objects by id, the `servicePrincipalNames/any(...)`
filter, getByIds with the CLI's types, Graph's error shape, and a token asked for the emulator's Graph
URL (the resource id a custom cloud names). Plain HTTPS through azure-core's pipeline and
RequestsTransport, as hsmsync's own Graph client sends it, signed in through azure-identity."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.core.pipeline.policies import BearerTokenCredentialPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential

from hsmsync.core.state_directory import DirectoryObject, SignInApplication, SignInDirectory
from hsmsync_emulator import Emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import sha256

from .conftest import TENANT, StartEmulator, base_state

ALICE = "dddddddd-0000-4000-8000-000000000003"
OPS = "dddddddd-0000-4000-8000-000000000005"
PIPELINE = "dddddddd-0000-4000-8000-000000000004"  # a service principal that signs in
PIPELINE_APP = "5e0c3f7a-0000-4000-8000-00000000de70"  # its application (client) id
ORPHAN_SP = "dddddddd-0000-4000-8000-000000000006"  # a service principal nobody signs in as
SECRET = secrets.token_urlsafe(12)
DIRECTORY = (
    DirectoryObject(id=ALICE, type="User", display_name="Alice", user_principal_name="alice@contoso.com"),
    DirectoryObject(id=OPS, type="Group", display_name="Ops"),
    DirectoryObject(id=PIPELINE, type="ServicePrincipal", display_name="pipeline"),
    DirectoryObject(id=ORPHAN_SP, type="ServicePrincipal", display_name="orphan"),
)


@pytest.fixture
def graph(tmp_path: Path, start: StartEmulator) -> Emulator:
    sign_in = SignInDirectory(
        applications=(
            SignInApplication(
                client_id=PIPELINE_APP, object_id=PIPELINE, client_secret_sha256=(sha256(SECRET),)
            ),
        )
    )
    path = tmp_path / "graph-state.json"
    write_state_file(path, base_state().model_copy(update={"directory": DIRECTORY, "sign_in": sign_in}))
    return start(state_path=path)


@pytest.fixture
def client(graph: Emulator) -> Iterator[PipelineClient[Any, Any]]:
    """Signed in as the pipeline's application through the token service, for the scope a custom
    cloud whose `microsoftGraphResourceId` is the emulator asks for (`<ARM URL>/.default`)."""
    credential = ClientSecretCredential(
        TENANT,
        PIPELINE_APP,
        SECRET,
        authority=graph.authority_url,
        disable_instance_discovery=True,
        connection_verify=str(graph.ca_cert_path),
    )
    pipeline: PipelineClient[Any, Any] = PipelineClient(
        graph.arm_url,
        policies=[BearerTokenCredentialPolicy(credential, f"{graph.arm_url}/.default")],
        transport=RequestsTransport(connection_verify=str(graph.ca_cert_path)),
    )
    with pipeline:
        yield pipeline
    credential.close()


def _send(client: PipelineClient[Any, Any], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = client.send_request(HttpRequest(method, client.format_url(path), json=body))
    return response.status_code, response.json()


def test_objects_by_id_per_collection(client: PipelineClient[Any, Any], graph: Emulator) -> None:
    status, user = _send(client, "GET", f"/v1.0/users/{ALICE.upper()}")
    assert status == 200
    assert user == {
        "@odata.context": f"{graph.arm_url}/v1.0/$metadata#users/$entity",
        "id": ALICE,
        "displayName": "Alice",
        "userPrincipalName": "alice@contoso.com",
    }
    assert _send(client, "GET", "/v1.0/users/ALICE%40contoso.com")[1]["id"] == ALICE  # by UPN too
    status, group = _send(client, "GET", f"/v1.0/Groups/{OPS}?$select=displayName")
    assert (status, group["id"], group["displayName"]) == (200, OPS, "Ops")
    assert group["@odata.context"].endswith("/v1.0/$metadata#groups(id,displayName)/$entity")
    status, sp = _send(client, "GET", f"/v1.0/servicePrincipals/{PIPELINE}")
    assert status == 200
    assert (sp["appId"], sp["servicePrincipalNames"]) == (PIPELINE_APP, [PIPELINE_APP])
    _, orphan = _send(client, "GET", f"/v1.0/servicePrincipals/{ORPHAN_SP}")
    assert "appId" not in orphan and "servicePrincipalNames" not in orphan  # not known: not invented


@pytest.mark.parametrize(
    "path",
    [
        "/v1.0/users/eeeeeeee-0000-4000-8000-000000000000",
        f"/v1.0/users/{OPS}",  # a group is not a user
        f"/v1.0/groups/{ALICE}",
        "/v1.0/servicePrincipals/bob@contoso.com",
    ],
)
def test_unknown_objects_are_404_in_graphs_error_shape(client: PipelineClient[Any, Any], path: str) -> None:
    status, body = _send(client, "GET", path)
    assert status == 404
    error = body["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert "does not exist" in error["message"] and "Activity ID" not in error["message"]
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


def test_service_principal_names_filter(client: PipelineClient[Any, Any]) -> None:
    def by_name(name: str) -> tuple[int, Any]:
        return _send(
            client, "GET", f"/v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '{name}')"
        )

    status, found = by_name(PIPELINE_APP.upper())
    assert status == 200
    assert [o["id"] for o in found["value"]] == [PIPELINE]
    status, none = by_name("https://nobody.example")  # what `az ... --assignee <name>` tries: empty, not 400
    assert (status, none["value"]) == (200, [])
    status, refused = _send(client, "GET", "/v1.0/users?$filter=servicePrincipalNames/any(c:c eq 'x')")
    assert status == 400
    assert refused["error"]["code"] == "Request_UnsupportedQuery"
    assert "innerError" in refused["error"]


def test_get_by_ids_with_the_types_the_azure_cli_sends(client: PipelineClient[Any, Any]) -> None:
    types = ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"]
    status, body = _send(
        client,
        "POST",
        "/v1.0/directoryObjects/getByIds",
        {"ids": [PIPELINE, ALICE, "eeeeeeee-0000-4000-8000-000000000000"], "types": types},
    )
    assert status == 200
    assert [(o["@odata.type"], o["id"]) for o in body["value"]] == [
        ("#microsoft.graph.servicePrincipal", PIPELINE),
        ("#microsoft.graph.user", ALICE),
    ]
    assert body["value"][0]["servicePrincipalNames"] == [PIPELINE_APP]  # the CLI shows it as the name


def test_only_get_on_objects(client: PipelineClient[Any, Any]) -> None:
    status, body = _send(client, "DELETE", f"/v1.0/users/{ALICE}")
    assert status == 405
    assert body["error"]["code"] == "Request_BadRequest"
