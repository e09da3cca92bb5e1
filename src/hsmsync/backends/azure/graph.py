"""Microsoft Graph, the little of it `hsmsync resolve` and `hsmsync export --live` need: find users,
groups and service principals by display name or UPN, and name object ids (`getByIds`).

An azure-core `PipelineClient` with the live backend's credential, retries and TLS trust:
`GET /v1.0/{groups|servicePrincipals|users}?$filter=<field> eq '<value>'&$select=...`, following
`@odata.nextLink`; `POST /v1.0/directoryObjects/getByIds`. The identity needs Graph read
permission for what it looks up (e.g. GroupMember.Read.All or Group.Read.All,
Application.Read.All, User.ReadBasic.All; or Directory.Read.All, which getByIds needs).
Nothing here logs a header, so never a token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from azure.core import PipelineClient
from azure.core.exceptions import AzureError, ClientAuthenticationError, ServiceRequestError
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    RequestIdPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest

from hsmsync import __version__
from hsmsync.backends.auth_methods import auth_method
from hsmsync.backends.azure.credentials import sign_in_for
from hsmsync.backends.azure.endpoints import read_endpoints, settings_from_endpoints
from hsmsync.backends.azure.errors import redact
from hsmsync.backends.azure.factory import retry_from_environ, timeouts_from_environ
from hsmsync.backends.azure.hosts import HostGuardPolicy, HostRule
from hsmsync.backends.azure.pacing import DeadlinePolicy, JitteredRetryPolicy, NoAnswerError
from hsmsync.backends.azure.settings import AzureSettings, TimeoutSettings
from hsmsync.backends.azure.transport import requests_transport
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.state_directory import DirectoryObject, PrincipalType
from hsmsync.principal_names import DirectoryEntry, Found, NameQuery

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

GRAPH_URL = "https://graph.microsoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_COLLECTIONS = {"User": "users", "Group": "groups", "ServicePrincipal": "servicePrincipals"}
_PERMISSIONS = {
    "User": "User.ReadBasic.All",
    "Group": "GroupMember.Read.All",
    "ServicePrincipal": "Application.Read.All",
}
_MAX_PAGES = 100
_MAX_IDS = 1000  # getByIds takes at most 1000 ids per request
_ODATA_TYPES = ("user", "group", "servicePrincipal")
_TYPES_BY_ODATA: dict[str, PrincipalType] = {
    "user": "User",
    "group": "Group",
    "serviceprincipal": "ServicePrincipal",
}


def odata_string(value: str) -> str:
    """A string literal for an OData `$filter`: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def lookup_path(query: NameQuery, *, page_size: int | None = None) -> str:
    """The request path and query string for one lookup (percent-encoded, `$` kept readable)."""
    field = "userPrincipalName" if query.field == "upn" else "displayName"
    select = "id,displayName" + (",userPrincipalName" if query.type == "User" else "")
    flt = f"{field} eq {odata_string(query.value)}"
    path = f"/v1.0/{_COLLECTIONS[query.type]}?$filter={quote(flt, safe='')}&$select={quote(select, safe=',')}"
    return path + (f"&$top={page_size}" if page_size else "")


class GraphDirectory:
    """A `Directory` (see principal_names.py) answered by Microsoft Graph."""

    def __init__(
        self,
        credential: TokenCredential,
        *,
        base_url: str = GRAPH_URL,
        scope: str = GRAPH_SCOPE,
        connection_verify: bool | str = True,
        retry: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        hosts: HostRule | None = None,
        timeouts: TimeoutSettings | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self._origin = _origin(self.base_url)
        timeouts = timeouts or TimeoutSettings()
        self._client: PipelineClient[Any, Any] = PipelineClient(
            self.base_url,
            policies=[
                RequestIdPolicy(),
                HeadersPolicy({"Accept": "application/json"}),
                UserAgentPolicy(base_user_agent=f"hsmsync/{__version__}"),
                DeadlinePolicy(timeouts),
                JitteredRetryPolicy(timeout=timeouts.total, **(retry or {})),
                HostGuardPolicy(hosts or HostRule()),  # before a token is attached
                BearerTokenCredentialPolicy(credential, scope),
            ],
            transport=requests_transport(connection_verify=connection_verify, **timeouts.client_kwargs()),
        )

    def find(self, query: NameQuery) -> Found:
        matches = []
        for item in self._items(query):
            object_id = item.get("id")
            if not isinstance(object_id, str) or not object_id:
                continue
            upn = item.get("userPrincipalName")
            matches.append(
                DirectoryEntry(
                    object_id.lower(),
                    query.type,
                    str(item.get("displayName") or ""),
                    upn if isinstance(upn, str) else None,
                )
            )
        return Found(tuple(matches))

    def member_groups(self, object_id: str) -> tuple[str, ...]:
        """Every group `object_id` belongs to, directly or not (`getMemberGroups`; needs e.g.
        GroupMember.Read.All or Directory.Read.All)."""
        url = f"{self.base_url}/v1.0/directoryObjects/{quote(object_id, safe='')}/getMemberGroups"
        what = f"look up the groups of {object_id} in Microsoft Graph"
        try:
            response = self._client.send_request(
                HttpRequest("POST", url, json={"securityEnabledOnly": False})
            )
        except AzureError as exc:
            raise BackendError(f"{what} failed: {redact(_first_line(exc))}") from exc
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        value = body.get("value") if isinstance(body, dict) else None
        if response.status_code >= 400 or not isinstance(value, list):
            raise BackendError(f"{what} failed: HTTP {response.status_code}", status=response.status_code)
        return tuple(sorted({g.lower() for g in value if isinstance(g, str)}))

    def _items(self, query: NameQuery) -> list[dict[str, Any]]:
        what = f"look up {query.type} {query.value!r} in Microsoft Graph"
        hint = f"{_PERMISSIONS[query.type]} (or Directory.Read.All)"
        return self.collect(lookup_path(query, page_size=self.page_size), what, hint)

    def get_by_ids(self, ids: Iterable[str]) -> tuple[DirectoryObject, ...]:
        """Users, groups and service principals by object id (`POST directoryObjects/getByIds`, in
        chunks of 1000); ids Graph does not know are left out. Needs Directory.Read.All."""
        wanted = sorted({i.lower() for i in ids})
        found: list[DirectoryObject] = []
        url = f"{self.base_url}/v1.0/directoryObjects/getByIds"
        for start in range(0, len(wanted), _MAX_IDS):
            chunk = wanted[start : start + _MAX_IDS]
            request = HttpRequest("POST", url, json={"ids": chunk, "types": list(_ODATA_TYPES)})
            what = f"look up {len(chunk)} object id(s) in Microsoft Graph (POST {_path(url)})"
            body = self._send(request, what, "Directory.Read.All")
            value = body.get("value")
            if not isinstance(value, list):
                raise BackendError(f"Microsoft Graph: unexpected answer to {_path(url)} (no 'value' list)")
            found.extend(o for item in value if (o := _directory_object(item)) is not None)
        return tuple(found)

    def _send(self, request: HttpRequest, what: str, permission: str) -> dict[str, Any]:
        try:
            response = self._client.send_request(request)
        except ClientAuthenticationError as exc:
            raise BackendError(
                f"could not get an access token to {what}: {redact(_first_line(exc))}"
            ) from exc
        except NoAnswerError as exc:
            raise BackendError(f"{what}: {_first_line(exc)}") from exc
        except ServiceRequestError as exc:
            raise BackendError(f"{what}: cannot reach {self._origin}: {redact(_first_line(exc))}") from exc
        except AzureError as exc:
            raise BackendError(f"{what} failed: {redact(_first_line(exc))}") from exc
        status = response.status_code
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        if status >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            code = str(error.get("code") or "") if isinstance(error, dict) else ""
            message = str(error.get("message") or "") if isinstance(error, dict) else response.text()[:200]
            hint = ""
            if status in (401, 403):
                hint = (
                    f". The identity hsmsync runs as needs Microsoft Graph read permission, e.g. {permission}"
                )
            raise BackendError(
                f"{what} failed: HTTP {status} {code}: {redact(message)}{hint}".replace("  ", " "),
                code=code or None,
                status=status,
            )
        if not isinstance(body, dict):
            raise BackendError(f"{what}: the answer is not a JSON object")
        return body

    def collect(self, path: str, what: str, permission: str) -> list[dict[str, Any]]:
        """Every item of a Graph collection (`/v1.0/...`), following `@odata.nextLink` on the same
        host only; `permission` names what a 401/403 asks for."""
        url: str | None = self.base_url + path
        items: list[dict[str, Any]] = []
        pages = 0
        while url:
            pages += 1
            if pages > _MAX_PAGES:
                raise BackendError(f"Microsoft Graph: more than {_MAX_PAGES} pages to {what}")
            body = self._send(HttpRequest("GET", url), f"{what} (GET {_path(url)})", permission)
            value = body.get("value")
            if not isinstance(value, list):
                raise BackendError(f"Microsoft Graph: unexpected answer to {_path(url)} (no 'value' list)")
            items.extend(v for v in value if isinstance(v, dict))
            next_link = body.get("@odata.nextLink")
            if next_link is not None and (
                not isinstance(next_link, str) or _origin(next_link) != self._origin
            ):
                # The token goes with the request: never follow a link to another host.
                raise BackendError(f"Microsoft Graph: refusing to follow a nextLink outside {self._origin}")
            url = next_link
        return items

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GraphDirectory:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def _directory_object(item: object) -> DirectoryObject | None:
    """One getByIds answer as a DirectoryObject; other object kinds (devices...) are skipped."""
    if not isinstance(item, dict):
        return None
    kind = str(item.get("@odata.type") or "").removeprefix("#microsoft.graph.")
    principal_type = _TYPES_BY_ODATA.get(kind.lower())
    object_id = item.get("id")
    if principal_type is None or not isinstance(object_id, str) or not object_id:
        return None
    upn = item.get("userPrincipalName")
    try:
        return DirectoryObject(
            id=object_id.lower(),
            type=principal_type,
            display_name=str(item.get("displayName") or ""),
            user_principal_name=upn if isinstance(upn, str) else None,
        )
    except ValueError:  # not a GUID: not an object hsmsync can name
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _first_line(exc: AzureError) -> str:
    message = exc.message if isinstance(exc.message, str) else str(exc)
    return message.splitlines()[0] if message else type(exc).__name__


def open_graph(
    *,
    endpoints: Path | None,
    environ: Mapping[str, str],
    allow_hosts: Iterable[str] = (),
    auth: str | None = None,
) -> GraphDirectory:
    """Graph as `--live [--endpoints FILE]` reaches it: the endpoints file's `graph` URL, CA
    certificate and authority, or https://graph.microsoft.com; signed in with `auth` (signin.py)."""
    retry = retry_from_environ(environ).client_kwargs()
    timeouts = timeouts_from_environ(environ)
    method = auth_method(auth, environ)
    if endpoints is None:
        settings = AzureSettings(
            hosts=HostRule.for_real_credentials(allow_hosts),
            timeouts=timeouts,
            auth=method,
            environ=dict(environ),
        )
        return GraphDirectory(sign_in_for(settings), retry=retry, hosts=settings.hosts, timeouts=timeouts)
    ep = read_endpoints(endpoints)
    settings = settings_from_endpoints(endpoints, allow_hosts=allow_hosts, auth=method, environ=environ)
    if ep.graph is None:
        raise StateError(
            f"{endpoints}: endpoints field 'graph': missing (needed by `hsmsync resolve`; hsmsync never "
            "falls back to public Azure for a service the endpoints file leaves out)"
        )
    settings = replace(settings, timeouts=timeouts)
    return GraphDirectory(
        sign_in_for(settings),
        base_url=ep.graph,
        # A sovereign cloud's Graph (graph.microsoft.us...) has its own resource; the emulator's is Graph's.
        scope=GRAPH_SCOPE if settings.hosts.emulator or ep.graph == GRAPH_URL else f"{ep.graph}/.default",
        connection_verify=settings.connection_verify,
        retry=retry,
        hosts=settings.hosts,
        timeouts=timeouts,
    )


def directory_object(item: object) -> DirectoryObject | None:
    """A Graph user, group or service principal (with `@odata.type`) as a DirectoryObject."""
    return _directory_object(item)


__all__ = [
    "GRAPH_SCOPE",
    "GRAPH_URL",
    "GraphDirectory",
    "directory_object",
    "lookup_path",
    "odata_string",
    "open_graph",
]
