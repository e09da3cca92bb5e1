"""Listing an HSM's role assignments page by page, straight into hsmsync's records.

The call goes through the SDK client's own pipeline (`KeyVaultAccessControlClient.send_request`:
the same authentication challenge, retries, pacing, host check and logging as every other call),
to the URL the SDK's `list_role_assignments` requests. What it skips is the SDK's model layer:
`list_role_assignments` turns every item of every page into two generated models and two public
ones, and a key scope's page repeats every HSM-wide assignment (about 50 of its 55 items in a
large fleet), so at fleet scale that layer was most of hsmsync's CPU time. Here each page's JSON
is read once, the items a key-scope list repeats are skipped before anything is built from them,
and the others become `DataRoleAssignment`s as the page arrives: nothing from the SDK is held for
the run.

Errors are raised as the SDK raises them (`map_error` with the generated operation's error map,
then `HttpResponseError`), so `errors.to_backend_error` words them the same; a page of the wrong
shape is a `DeserializationError`, as the SDK's own would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from azure.core.exceptions import (
    ClientAuthenticationError,
    DeserializationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    map_error,
)
from azure.core.rest import HttpRequest

from hsmsync.backends.azure.ids import role_guid, scope_text
from hsmsync.core.errors import StateError
from hsmsync.core.state import DataRoleAssignment

if TYPE_CHECKING:
    from azure.keyvault.administration import KeyVaultAccessControlClient

# The generated `list_for_scope` operation's error map (azure-keyvault-administration).
_ERROR_MAP: dict[int, type[HttpResponseError]] = {
    401: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    304: ResourceNotModifiedError,
}
_ACCEPT = {"Accept": "application/json"}  # as the SDK's request builder sets it
# How the service writes the HSM-wide scopes (scope_text reads them as themselves).
_HSM_WIDE = frozenset({"/", "/keys"})


def list_path(scope: str) -> str:
    """The path the SDK's `list_role_assignments(scope)` requests (azure-core's `format_url`
    drops the leading slashes when it joins it to the HSM's URL)."""
    return f"/{scope}/providers/Microsoft.Authorization/roleAssignments"


def _page(client: KeyVaultAccessControlClient, request: HttpRequest) -> tuple[list[Any], str | None]:
    response = client.send_request(request)
    if response.status_code != 200:
        map_error(status_code=response.status_code, response=response, error_map=_ERROR_MAP)
        raise HttpResponseError(response=response)
    body = response.json()
    items = body.get("value", []) if isinstance(body, dict) else None
    next_link = body.get("nextLink") if isinstance(body, dict) else None
    if not isinstance(items, list) or not (next_link is None or isinstance(next_link, str)):
        raise DeserializationError("a role assignment list page is not {'value': [...], 'nextLink': ...}")
    return items, next_link or None


def list_assignments(
    client: KeyVaultAccessControlClient,
    hsm: str,
    scope: str,
    odata_filter: str | None = None,
    *,
    only_at: str | None = None,
) -> Iterator[DataRoleAssignment]:
    """Every assignment the service lists at `scope` of HSM `hsm` (with `odata_filter`), page by
    page, as `DataRoleAssignment`s; with `only_at` (a key scope, lower-case), only those at that
    scope (tested before the item is read any further). Raises the SDK's errors; StateError for
    an item that is not a role assignment."""
    # Quoted as the SDK's serializer quotes a query value (azure-core adds `params` unquoted).
    params = {} if odata_filter is None else {"$filter": quote(odata_filter, safe="")}
    request: HttpRequest | None = HttpRequest("GET", list_path(scope), params=params, headers=_ACCEPT)
    while request is not None:
        items, next_link = _page(client, request)
        for item in items:
            try:
                record = _record(item, only_at)
            except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
                raise StateError(f"HSM '{hsm}': unreadable role assignment {_name(item)!r}: {exc}") from exc
            if record is not None:
                yield record
        request = None if next_link is None else HttpRequest("GET", next_link, headers=_ACCEPT)


def _record(item: Any, only_at: str | None) -> DataRoleAssignment | None:
    """One listed item as a record (None: not at `only_at`). The same reading as
    `dataplane.assignment_from_sdk`: a missing scope is '/', the role id becomes its GUID."""
    props = item.get("properties") if isinstance(item, dict) else None
    if not isinstance(props, dict):
        raise ValueError("assignment without properties")
    raw_scope = props.get("scope") or "/"
    if only_at is not None and raw_scope in _HSM_WIDE:
        return None  # most of a key scope's list: the HSM-wide assignments, read at '/' and '/keys'
    scope = scope_text(raw_scope)
    if only_at is not None and scope.lower() != only_at:
        return None
    role_id, principal_id = props.get("roleDefinitionId"), props.get("principalId")
    if not isinstance(role_id, str) or not role_id or not isinstance(principal_id, str) or not principal_id:
        raise ValueError("assignment without properties")
    return DataRoleAssignment(
        name=str(item.get("name")),
        scope=scope,
        role_definition_id=role_guid(role_id),
        principal_id=principal_id,
    )


def _name(item: Any) -> str | None:
    name = item.get("name") if isinstance(item, dict) else None
    return None if name is None else str(name)
