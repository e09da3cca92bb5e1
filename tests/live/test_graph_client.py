"""The Graph client of `hsmsync resolve`: OData quoting, paging, errors, and never a token in output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync.backends.azure.graph import GRAPH_SCOPE, GraphDirectory, lookup_path, odata_string, open_graph
from hsmsync.backends.azure.hosts import HostRule
from hsmsync.backends.azure.signin import SignInError
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import DirectoryObject
from hsmsync.principal_names import NameQuery
from hsmsync_emulator import Emulator, TokenAuthority, start_emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import EmulatorCredential, sign_in_as

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ME = "f0f0f0f0-0000-4000-8000-000000000001"
OBRIEN = "f1f1f1f1-0000-4000-8000-000000000001"
TWINS = ("f2f2f2f2-0000-4000-8000-000000000001", "f2f2f2f2-0000-4000-8000-000000000002")
GUEST = "f3f3f3f3-0000-4000-8000-000000000001"
GUEST_UPN = "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com"


def test_odata_quoting_and_encoding() -> None:
    assert odata_string("O'Brien") == "'O''Brien'"
    path = lookup_path(NameQuery("k", "User", "upn", GUEST_UPN), page_size=5)
    assert path == (
        "/v1.0/users?$filter=userPrincipalName%20eq%20%27bob_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com%27"
        "&$select=id,displayName,userPrincipalName&$top=5"
    )
    assert lookup_path(NameQuery("k", "ServicePrincipal", "name", "a&b")).startswith(
        "/v1.0/servicePrincipals?$filter=displayName%20eq%20%27a%26b%27&$select=id,displayName"
    )


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    directory = (
        DirectoryObject(id=OBRIEN, type="ServicePrincipal", display_name="O'Brien's app"),
        DirectoryObject(id=TWINS[0], type="Group", display_name="Twins"),
        DirectoryObject(id=TWINS[1], type="Group", display_name="Twins"),
        DirectoryObject(id=GUEST, type="User", display_name="Bob", user_principal_name=GUEST_UPN),
    )
    write_state_file(tmp_path / "state.json", LiveState(tenant_id=TENANT, directory=directory))
    with start_emulator(tmp_path / "state.json", workdir=tmp_path / "emu") as emulator:
        yield emulator


def _graph(emu: Emulator, credential: EmulatorCredential, **kwargs: Any) -> GraphDirectory:
    return GraphDirectory(
        credential,
        base_url=emu.arm_url,
        connection_verify=str(emu.ca_cert_path),
        hosts=HostRule(emulator=True),
        **kwargs,
    )


def test_lookups_against_the_emulator(emu: Emulator) -> None:
    credential = EmulatorCredential(emu, ME)
    with _graph(emu, credential, page_size=1) as graph:
        sp = graph.find(NameQuery("k", "ServicePrincipal", "name", "O'Brien's app"))
        assert [(m.id, m.display_name) for m in sp.matches] == [(OBRIEN, "O'Brien's app")]
        emu.clear_log()
        twins = graph.find(NameQuery("k", "Group", "name", "twins"))
        assert [m.id for m in twins.matches] == list(TWINS)
        assert len(emu.request_log) == 2  # one page each: the nextLink was followed
        guest = graph.find(NameQuery("k", "User", "upn", GUEST_UPN))
        assert [(m.id, m.upn) for m in guest.matches] == [(GUEST, GUEST_UPN)]
        assert graph.find(NameQuery("k", "Group", "name", "nobody")).matches == ()
    assert set(credential.requests) == {(GRAPH_SCOPE,)}


def test_open_graph_from_the_endpoints_file(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.write_endpoints(tmp_path / "endpoints.json")
    env = sign_in_as(emu, ME)  # Graph signs in at the emulator's token service like the backend
    with open_graph(endpoints=tmp_path / "endpoints.json", environ=env) as graph:
        assert graph.base_url == emu.arm_url
        assert [m.id for m in graph.find(NameQuery("k", "Group", "name", "Twins")).matches] == list(TWINS)
    # --auth wins over HSMSYNC_AUTH (client-secret here): az is not on this PATH.
    monkeypatch.setenv("PATH", str(tmp_path / "no-az"))
    with (
        open_graph(endpoints=tmp_path / "endpoints.json", environ=env, auth="azure-cli") as graph,
        pytest.raises(SignInError, match=r"\(--auth azure-cli\); tried:\n  - azure-cli: "),
    ):
        graph.find(NameQuery("k", "Group", "name", "Twins"))
    endpoints = json.loads((tmp_path / "endpoints.json").read_text())
    del endpoints["graph"]
    (tmp_path / "endpoints.json").write_text(json.dumps(endpoints))
    with pytest.raises(StateError, match="endpoints field 'graph': missing"):
        open_graph(endpoints=tmp_path / "endpoints.json", environ={})


def test_service_errors_name_the_lookup(tmp_path: Path) -> None:
    write_state_file(tmp_path / "state.json", LiveState(tenant_id=TENANT))  # no directory
    with start_emulator(tmp_path / "state.json", workdir=tmp_path / "emu") as emu:
        graph = _graph(emu, EmulatorCredential(emu, ME))
        with pytest.raises(BackendError) as info:
            graph.find(NameQuery("k", "Group", "name", "x"))
    message = str(info.value)
    assert message.startswith("look up Group 'x' in Microsoft Graph (GET /v1.0/groups?$filter=")
    assert "HTTP 501 NotImplemented: The emulator's state has no `directory`" in message


class _Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.content = json.dumps(body).encode()
        self._body = body

    def json(self) -> Any:
        return self._body

    def text(self) -> str:
        return self.content.decode()


class _Client:
    def __init__(self, answers: list[_Answer]) -> None:
        self.answers = answers
        self.urls: list[str] = []

    def send_request(self, request: Any) -> _Answer:
        self.urls.append(request.url)
        return self.answers.pop(0)

    def close(self) -> None:
        return None


def _scripted(answers: list[_Answer]) -> tuple[GraphDirectory, _Client]:
    graph = GraphDirectory(
        EmulatorCredential(TokenAuthority(TENANT), ME), base_url="https://graph.example.test"
    )
    client = _Client(answers)
    graph._client = client  # type: ignore[assignment]
    return graph, client


def test_forbidden_names_the_permission_and_redacts() -> None:
    token = "eyJhbGciOiJub25lIn0.eyJvaWQiOiJ4In0.c2ln"
    graph, _ = _scripted(
        [
            _Answer(
                403,
                {"error": {"code": "Authorization_RequestDenied", "message": f"Denied for Bearer {token}"}},
            )
        ]
    )
    with pytest.raises(BackendError) as info:
        graph.find(NameQuery("k", "ServicePrincipal", "name", "app"))
    message = str(info.value)
    assert "HTTP 403 Authorization_RequestDenied" in message and "Application.Read.All" in message
    assert token not in message and "<redacted>" in message


def test_a_next_link_to_another_host_is_not_followed() -> None:
    first = {
        "value": [{"id": TWINS[0], "displayName": "Twins"}],
        "@odata.nextLink": "https://evil.test/v1.0/groups",
    }
    graph, client = _scripted([_Answer(200, first)])
    with pytest.raises(
        BackendError, match="refusing to follow a nextLink outside https://graph.example.test"
    ):
        graph.find(NameQuery("k", "Group", "name", "Twins"))
    assert len(client.urls) == 1
