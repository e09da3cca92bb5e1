"""Listing role assignments page by page through the SDK client's `send_request`
(`backends/azure/assignment_pages.py`): the request the SDK would send, every page, records
instead of SDK models, a key scope's repeated HSM-wide items skipped, errors as the SDK raises them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.core.exceptions import DeserializationError, HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest

from hsmsync.backends.azure.assignment_pages import list_assignments
from hsmsync.core.errors import StateError
from hsmsync.core.state import DataRoleAssignment

USER = "21dbd100-6940-42c2-9190-5d6cb909625b"
DEF = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"


def item(n: int, scope: str, *, role: str = USER, principal: str | None = None) -> dict[str, Any]:
    name = f"00000000-0000-4000-8000-{n:012d}"
    return {
        "id": f"/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "properties": {
            "principalId": principal or f"0b000000-0000-4000-8000-{n:012d}",
            "roleDefinitionId": DEF + role,
            "scope": scope,
        },
    }


def sdk_url(scope: str, odata_filter: str | None = None) -> str:
    """The URL the SDK's own request builder makes for the list (without its api-version, which
    `send_request` adds from the client's)."""
    from azure.keyvault.administration._generated.operations._operations import (
        build_role_assignments_list_for_scope_request,
    )

    url = build_role_assignments_list_for_scope_request(scope=scope, filter=odata_filter).url
    path, _, query = url.partition("?")
    kept = [p for p in query.split("&") if not p.startswith("api-version=")]
    return path + ("?" + "&".join(kept) if kept else "")


class Reply:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.body = body
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.reason = "Not Found" if status == 404 else "OK"
        self.content_type = "application/json"

    def json(self) -> Any:
        return self.body

    def text(self) -> str:
        return json.dumps(self.body)

    @property
    def content(self) -> bytes:
        return self.text().encode()


class FakeClient:
    """Stands in for KeyVaultAccessControlClient.send_request: one reply per request, in order."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.urls: list[str] = []
        self.accept: list[str | None] = []

    def send_request(self, request: HttpRequest, **kwargs: Any) -> Reply:
        self.urls.append(request.url)
        self.accept.append(request.headers.get("Accept"))
        return self.replies.pop(0)


def test_every_page_is_read_as_records() -> None:
    client = FakeClient(
        Reply(200, {"value": [item(1, "/"), item(2, "/keys")], "nextLink": "https://h/next?$skiptoken=2"}),
        Reply(200, {"value": [item(3, "/")], "nextLink": None}),
    )
    found = list(list_assignments(client, "hsm1", "/"))  # type: ignore[arg-type]
    assert [a.name[-1] for a in found] == ["1", "2", "3"]
    assert all(isinstance(a, DataRoleAssignment) for a in found)
    assert found[0].role_definition_id == USER  # the GUID of the definition id
    assert client.urls == [sdk_url("/"), "https://h/next?$skiptoken=2"]


def test_a_key_scope_keeps_its_own_and_skips_the_hsm_wide_ones_unread() -> None:
    broken = {"name": "x", "properties": {"scope": "/", "roleDefinitionId": None, "principalId": None}}
    client = FakeClient(
        Reply(200, {"value": [broken, item(1, "/keys"), item(2, "/keys/K1"), item(3, "/keys/k2")]})
    )
    found = list(list_assignments(client, "hsm1", "/keys/k1", only_at="/keys/k1"))  # type: ignore[arg-type]
    assert [(a.name[-1], a.scope) for a in found] == [("2", "/keys/K1")]


@pytest.mark.parametrize("scope", ["/", "/keys", "/keys/k1"])
def test_the_request_is_the_one_the_sdk_builds(scope: str) -> None:
    client = FakeClient(Reply(200, {"value": []}))
    assert list(list_assignments(client, "hsm1", scope)) == []  # type: ignore[arg-type]
    assert client.urls == [sdk_url(scope)]
    assert client.accept == ["application/json"]


def test_the_principal_filter_is_quoted_as_the_sdk_quotes_it() -> None:
    client = FakeClient(Reply(200, {"value": []}))
    odata = "principalId eq '0b000000-0000-4000-8000-000000000001'"
    assert list(list_assignments(client, "hsm1", "/", odata)) == []  # type: ignore[arg-type]
    assert client.urls == [sdk_url("/", odata)]


def test_an_unreadable_item_is_a_state_error_naming_hsm_and_item() -> None:
    bad = {
        **item(7, "/"),
        "properties": {"scope": "/", "roleDefinitionId": DEF + "not-a-guid", "principalId": "p"},
    }
    client = FakeClient(Reply(200, {"value": [bad]}))
    with pytest.raises(
        StateError, match=r"HSM 'hsm1': unreadable role assignment '00000000-0000-4000-8000-000000000007'"
    ):
        list(list_assignments(client, "hsm1", "/"))  # type: ignore[arg-type]


@pytest.mark.parametrize("body", [{"value": 17}, ["value"], {"value": [], "nextLink": 17}])
def test_a_page_of_the_wrong_shape_is_a_deserialization_error(body: Any) -> None:
    with pytest.raises(DeserializationError):
        list(list_assignments(FakeClient(Reply(200, body)), "hsm1", "/"))  # type: ignore[arg-type]


def test_errors_are_raised_as_the_sdk_raises_them() -> None:
    missing = Reply(404, {"error": {"code": "NotFound", "message": "no such scope"}})
    with pytest.raises(ResourceNotFoundError):
        list(list_assignments(FakeClient(missing), "hsm1", "/keys/k9"))  # type: ignore[arg-type]
    denied = Reply(403, {"error": {"code": "Forbidden", "message": "denied"}})
    with pytest.raises(HttpResponseError) as caught:
        list(list_assignments(FakeClient(denied), "hsm1", "/"))  # type: ignore[arg-type]
    assert caught.value.status_code == 403
