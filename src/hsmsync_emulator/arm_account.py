"""ARM's account endpoints, which clients call before any resource: the cloud metadata
(`GET /metadata/endpoints`, served without a token, as Azure does), the caller's subscriptions
(`GET /subscriptions`, `GET /subscriptions/{id}`) and tenants (`GET /tenants`).

The Azure CLI reads the metadata when a custom cloud is registered (`az cloud register
--endpoint-resource-manager`), lists the subscriptions at `az login` and the tenants at `az account
tenant list`. What the public material does not settle is in ASSUMPTIONS.md ("ARM account endpoints").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from hsmsync.core.state import LiveState
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import Operation, base_headers, error_body, paged
from hsmsync_emulator.server import App, Request, Response
from hsmsync_emulator.store import Store

METADATA_PATH = "/metadata/endpoints"
# The metadata's three shapes: 2015-01-01 the classic object, 2019-05-01 and 2020-06-01 a list of
# clouds, 2022-09-01 (what the Azure CLI asks for) one cloud object.
_METADATA_CLASSIC = ("2015-01-01",)
_METADATA_LIST = ("2019-05-01", "2020-06-01")
_METADATA_SINGLE = ("2022-09-01",)
# Microsoft.Resources' versions for subscriptions and tenants (azure-mgmt-resource ships clients for
# 2016-06-01 to 2022-12-01).
ACCOUNT_API_VERSIONS = (
    "2014-04-01",
    "2015-11-01",
    "2016-01-01",
    "2016-06-01",
    "2018-06-01",
    "2019-06-01",
    "2019-11-01",
    "2020-01-01",
    "2021-01-01",
    "2022-01-01",
    "2022-12-01",
)
CLOUD_NAME = "HsmsyncEmulator"
_MANAGEMENT_AUDIENCES = ["https://management.core.windows.net/", "https://management.azure.com/"]
_SUBSCRIPTION_IN = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_SUBSCRIPTIONS = re.compile(r"^/subscriptions/?$", re.IGNORECASE)
_SUBSCRIPTION = re.compile(r"^/subscriptions/(?P<id>[^/]+)/?$", re.IGNORECASE)
_TENANTS = re.compile(r"^/tenants/?$", re.IGNORECASE)


def check_api_version(request: Request, supported: tuple[str, ...]) -> str:
    """ARM's answer to a missing or unknown `api-version` (400 naming the version and the supported ones)."""
    version = request.param("api-version")
    if not version:
        raise ApiError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if version not in supported:
        raise ApiError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are '{','.join(supported)}'.",
        )
    return version


# ------------------------------------------------------------------------------------ cloud metadata


def cloud_metadata(arm_url: str, login_url: str) -> dict[str, Any]:
    """The emulator as one cloud: ARM and Graph on the ARM port, sign-in at the token service. Entries
    for services the emulator does not serve are left out (a client must not reach real Azure)."""
    arm = arm_url.rstrip("/") + "/"
    return {
        "name": CLOUD_NAME,
        "resourceManager": arm,
        "authentication": {
            "loginEndpoint": login_url.rstrip("/"),
            "audiences": list(_MANAGEMENT_AUDIENCES),
            "tenant": "common",
            "identityProvider": "AAD",
        },
        # Graph's resource id is where it is served, as in the sovereign clouds; the token service
        # takes this URL as Graph's (ASSUMPTIONS.md).
        "microsoftGraphResourceId": arm,
        # Empty DNS suffixes: each emulated HSM has its own 127.0.0.1 port, not a name under a domain, so
        # clients build `https://<the name given>` (the Azure CLI: `--hsm-name 127.0.0.1:PORT`).
        "suffixes": {"keyVaultDns": "", "mhsmDns": ""},
    }


def _metadata_answer(request: Request, login_url: str) -> Response:
    if request.method != "GET":
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported on {METADATA_PATH}")
    version = check_api_version(request, _METADATA_CLASSIC + _METADATA_LIST + _METADATA_SINGLE)
    cloud = cloud_metadata(request.base_url, login_url)
    if version in _METADATA_SINGLE:
        return Response(200, cloud)
    if version in _METADATA_LIST:
        return Response(200, [cloud])
    return Response(
        200,
        {
            "galleryEndpoint": "",
            "graphEndpoint": "",  # Azure AD Graph, which the emulator does not serve
            "portalEndpoint": "",
            "authentication": {
                "loginEndpoint": cloud["authentication"]["loginEndpoint"] + "/",
                "audiences": list(_MANAGEMENT_AUDIENCES),
            },
        },
    )


def with_cloud_metadata(app: App, login_url: Callable[[], str]) -> App:
    """`app` (the ARM port's gateway) with `GET /metadata/endpoints` answered in front of it: the
    metadata is how a client finds the token service, so it needs no token."""

    def serve(request: Request) -> Response:
        if request.path.rstrip("/").lower() != METADATA_PATH:
            return app(request)
        request_id = str(uuid.uuid4())
        try:
            response = _metadata_answer(request, login_url())
        except ApiError as exc:
            response = Response(exc.status, error_body(exc.code, exc.message, request_id))
        response.headers = {**base_headers(request_id, data_plane=False), **response.headers}
        return response

    return serve


# ------------------------------------------------------------------------ subscriptions and tenants


def subscription_ids(state: LiveState) -> list[str]:
    """Every subscription the state names (in resource ids and ARM scopes), first spelling kept."""
    named: dict[str, str] = {}
    for text in _arm_paths(state):
        if (m := _SUBSCRIPTION_IN.match(text)) is not None:
            named.setdefault(m.group(1).lower(), m.group(1))
    return list(named.values())


def _arm_paths(state: LiveState) -> Iterator[str]:
    yield from (hsm.resource_id for hsm in state.hsms.values())
    yield from (vault.resource_id for vault in state.vaults.values())
    yield from (a.scope for a in state.arm.role_assignments)
    for role in state.arm.role_definitions:
        yield from role.assignable_scopes


def subscription_json(sub: str, tenant_id: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "tags": {},
        "subscriptionId": sub,
        "tenantId": tenant_id,
        "displayName": f"hsmsync emulator {sub}",
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def _default_domain(state: LiveState) -> str:
    """The domain of the first user principal name the state knows, as the tenant's default domain."""
    names = [o.user_principal_name for o in state.directory or () if o.user_principal_name]
    names += [u.user_principal_name for u in state.sign_in.users]
    return next((n.rsplit("@", 1)[1].lower() for n in names if "@" in n), "emulator.onmicrosoft.com")


def tenant_json(state: LiveState) -> dict[str, Any]:
    domain = _default_domain(state)
    return {
        "id": f"/tenants/{state.tenant_id}",
        "tenantId": state.tenant_id,
        "countryCode": "US",
        "displayName": "hsmsync emulator",
        "domains": [domain],
        "tenantCategory": "Home",
        "defaultDomain": domain,
        "tenantType": "AAD",
    }


class AccountRoutes:
    """`/subscriptions`, `/subscriptions/{id}` and `/tenants` (GET, api-version checked)."""

    def __init__(self, store: Store, page_size: Callable[[], int]) -> None:
        self._store = store
        self._page_size = page_size

    def resolve(self, request: Request) -> Operation | None:
        path = request.path
        if _SUBSCRIPTIONS.match(path):
            self._check(request)
            return Operation(lambda: self._list_subscriptions(request))
        if m := _SUBSCRIPTION.match(path):
            self._check(request)
            sub = m.group("id")
            return Operation(lambda: self._get_subscription(sub))
        if _TENANTS.match(path):
            self._check(request)
            return Operation(lambda: self._list_tenants(request))
        return None

    @staticmethod
    def _check(request: Request) -> None:
        if request.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported on {request.path}")
        check_api_version(request, ACCOUNT_API_VERSIONS)

    def _list_subscriptions(self, request: Request) -> Response:
        state = self._store.read()
        items = [subscription_json(s, state.tenant_id) for s in subscription_ids(state)]
        return _counted(paged(items, request, self._page_size(), token="$skipToken"), len(items))

    def _get_subscription(self, sub: str) -> Response:
        state = self._store.read()
        found = next((s for s in subscription_ids(state) if s.lower() == sub.lower()), None)
        if found is None:
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        return Response(200, subscription_json(found, state.tenant_id))

    def _list_tenants(self, request: Request) -> Response:
        state = self._store.read()
        return _counted(paged([tenant_json(state)], request, self._page_size(), token="$skipToken"), 1)


def _counted(response: Response, total: int) -> Response:
    """ARM's list answers for subscriptions and tenants carry the total count."""
    response.body = {**response.body, "count": {"type": "Total", "value": total}}
    return response


__all__ = [
    "ACCOUNT_API_VERSIONS",
    "CLOUD_NAME",
    "METADATA_PATH",
    "AccountRoutes",
    "check_api_version",
    "cloud_metadata",
    "subscription_ids",
    "with_cloud_metadata",
]
