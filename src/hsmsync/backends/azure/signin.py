"""Signing in: which azure-identity credential hsmsync uses, chosen with `--auth` / HSMSYNC_AUTH.

    github             GitHub Actions OIDC (job with `permissions: id-token: write`): a fresh token
                       from ACTIONS_ID_TOKEN_REQUEST_URL for every Entra request, exchanged as a
                       client assertion (AZURE_CLIENT_ID, AZURE_TENANT_ID)
    azure-pipelines    a workload-identity service connection (AzurePipelinesCredential):
                       SYSTEM_OIDCREQUESTURI, SYSTEM_ACCESSTOKEN, AZURE_SERVICE_CONNECTION_ID
    workload-identity  Kubernetes workload identity (AZURE_FEDERATED_TOKEN_FILE)
    managed-identity   the machine's managed identity (AZURE_CLIENT_ID picks a user-assigned one)
    client-secret      AZURE_CLIENT_SECRET, or AZURE_CLIENT_CERTIFICATE_PATH
    azure-cli          a developer's `az login`
    auto (default)     the first of these the environment sets up; else managed identity, then
                       azure-cli

The first token request signs in; when nothing works, ONE short error lists what was tried (the
SDK's own multi-line reports and warnings are kept out of the output). The identity in use is
decoded from the access token's claims (never verified, never printed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hsmsync.backends.auth_methods import AUTH_METHODS, ENV_AUTH, auth_method
from hsmsync.backends.azure.caller import token_claims
from hsmsync.backends.azure.errors import redact
from hsmsync.backends.azure.settings import TimeoutSettings
from hsmsync.core.errors import HsmsyncError

if TYPE_CHECKING:
    from azure.core.credentials import AccessTokenInfo, TokenRequestOptions

FEDERATION_AUDIENCE = "api://AzureADTokenExchange"


class SignInError(HsmsyncError):
    """Nothing could sign in (the message lists each method tried and why it failed)."""


class _Unavailable(Exception):
    """The environment lacks what a method needs (named in the message)."""


@dataclass(frozen=True)
class SignInOptions:
    """auth: a method of AUTH_METHODS. authority: the token service (the emulator's, from an
    endpoints file; else AZURE_AUTHORITY_HOST or public Azure). connection_verify: TLS trust for
    every sign-in request."""

    auth: str = "auto"
    environ: Mapping[str, str] = field(default_factory=dict)
    authority: str | None = None
    connection_verify: bool | str = True
    timeouts: TimeoutSettings = field(default_factory=TimeoutSettings)


def detect(environ: Mapping[str, str]) -> list[str]:
    """The methods `auto` tries, in order. In a GitHub Actions or Azure Pipelines job without its
    OIDC set up, that CI's method is tried first anyway, so the error says what is missing."""
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        return ["github"]
    if environ.get("SYSTEM_OIDCREQUESTURI") and _service_connection(environ):
        return ["azure-pipelines"]
    if environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        return ["workload-identity"]
    if environ.get("AZURE_CLIENT_SECRET") or environ.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        return ["client-secret"]
    ci = []
    if environ.get("GITHUB_ACTIONS") == "true":
        ci = ["github"]
    elif environ.get("TF_BUILD", "").lower() == "true":  # set in every Azure Pipelines job
        ci = ["azure-pipelines"]
    return [*ci, "managed-identity", "azure-cli"]


# What to do about a missing variable (the one line of the error that names it).
_HINTS = {
    "ACTIONS_ID_TOKEN_REQUEST_URL": "the job needs `permissions: id-token: write`",
    "SYSTEM_ACCESSTOKEN": "map it in the step: `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`",
    "AZURE_SERVICE_CONNECTION_ID": "the id of the workload-identity service connection",
}


def _first(environ: Mapping[str, str], *names: str) -> str:
    return next((environ[n].strip() for n in names if environ.get(n, "").strip()), "")


def _service_connection(environ: Mapping[str, str]) -> str:
    return _first(environ, "AZURE_SERVICE_CONNECTION_ID", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID")


def _need(environ: Mapping[str, str], *names: str) -> str:
    value = _first(environ, *names)
    if not value:
        hint = _HINTS.get(names[0])
        raise _Unavailable(f"{' or '.join(names)} is not set" + (f" ({hint})" if hint else ""))
    return value


class GithubOidcToken:
    """The client-assertion callback for GitHub Actions: a NEW token from the Actions OIDC endpoint
    each time Entra is asked (they live minutes; a cached one would expire in long runs)."""

    def __init__(self, url: str, request_token: str, verify: bool | str, timeouts: TimeoutSettings) -> None:
        self._url = url + ("&" if "?" in url else "?") + f"audience={quote(FEDERATION_AUDIENCE, safe='')}"
        self._request_token = request_token
        self._verify = verify
        self._timeouts = timeouts

    def __call__(self) -> str:
        import requests

        from hsmsync.backends.azure.transport import LeanSession  # never ~/.netrc for this bearer token

        try:
            with LeanSession() as session:
                answer = session.get(
                    self._url,
                    headers={"Authorization": f"Bearer {self._request_token}", "Accept": "application/json"},
                    verify=self._verify,
                    timeout=(self._timeouts.connect, self._timeouts.read),
                )
        except requests.RequestException as exc:
            raise _Unavailable(
                f"the GitHub Actions OIDC endpoint did not answer: {type(exc).__name__}"
            ) from None
        if answer.status_code != 200:
            raise _Unavailable(
                f"the GitHub Actions OIDC endpoint answered {answer.status_code} "
                "(does the job have `permissions: id-token: write`?)"
            )
        try:
            value = answer.json()["value"]
        except (ValueError, KeyError, TypeError):
            raise _Unavailable("the GitHub Actions OIDC endpoint's answer has no token") from None
        if not isinstance(value, str) or not value:
            raise _Unavailable("the GitHub Actions OIDC endpoint's answer has no token")
        return value


def _identity_kwargs(options: SignInOptions) -> dict[str, Any]:
    """Transport and authority kwargs of the Entra credentials."""
    kwargs: dict[str, Any] = {
        "connection_verify": options.connection_verify,
        **options.timeouts.client_kwargs(),
    }
    authority = options.authority or options.environ.get("AZURE_AUTHORITY_HOST", "").strip()
    if authority:
        kwargs["authority"] = authority
    if options.authority:
        # The emulator's token service is not a known cloud: do not ask public Azure about it.
        kwargs["disable_instance_discovery"] = True
    return kwargs


def _github(options: SignInOptions) -> Any:
    from azure.identity import ClientAssertionCredential

    env = options.environ
    url = _need(env, "ACTIONS_ID_TOKEN_REQUEST_URL")
    token = _need(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    func = GithubOidcToken(url, token, options.connection_verify, options.timeouts)
    return ClientAssertionCredential(
        _need(env, "AZURE_TENANT_ID"),
        _need(env, "AZURE_CLIENT_ID"),
        func,
        **_identity_kwargs(options),
    )


def _azure_pipelines(options: SignInOptions) -> Any:
    from azure.identity import AzurePipelinesCredential

    env = options.environ
    _need(env, "SYSTEM_OIDCREQUESTURI")
    return AzurePipelinesCredential(
        tenant_id=_need(env, "AZURE_TENANT_ID", "AZURESUBSCRIPTION_TENANT_ID"),
        client_id=_need(env, "AZURE_CLIENT_ID", "AZURESUBSCRIPTION_CLIENT_ID"),
        service_connection_id=_need(
            env, "AZURE_SERVICE_CONNECTION_ID", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"
        ),
        system_access_token=_need(env, "SYSTEM_ACCESSTOKEN"),
        **_identity_kwargs(options),
    )


def _workload_identity(options: SignInOptions) -> Any:
    from azure.identity import WorkloadIdentityCredential

    env = options.environ
    return WorkloadIdentityCredential(
        tenant_id=_need(env, "AZURE_TENANT_ID"),
        client_id=_need(env, "AZURE_CLIENT_ID"),
        token_file_path=_need(env, "AZURE_FEDERATED_TOKEN_FILE"),
        **_identity_kwargs(options),
    )


def _managed_identity(options: SignInOptions) -> Any:
    from azure.identity import ManagedIdentityCredential

    client_id = options.environ.get("AZURE_CLIENT_ID", "").strip() or None
    kwargs: dict[str, Any] = {
        "connection_verify": options.connection_verify,
        **options.timeouts.client_kwargs(),
    }
    if options.auth == "auto":
        # Off Azure, fail in about a second instead of retrying the unreachable IMDS for a minute.
        kwargs["_enable_imds_probe"] = True
    return ManagedIdentityCredential(client_id=client_id, **kwargs)


def _client_secret(options: SignInOptions) -> Any:
    from azure.identity import CertificateCredential, ClientSecretCredential

    env = options.environ
    tenant = _need(env, "AZURE_TENANT_ID")
    client = _need(env, "AZURE_CLIENT_ID")
    if env.get("AZURE_CLIENT_SECRET"):
        return ClientSecretCredential(tenant, client, env["AZURE_CLIENT_SECRET"], **_identity_kwargs(options))
    path = _need(env, "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH")
    password = env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD") or None
    return CertificateCredential(tenant, client, path, password=password, **_identity_kwargs(options))


def _azure_cli(options: SignInOptions) -> Any:
    from azure.identity import AzureCliCredential

    tenant = options.environ.get("AZURE_TENANT_ID", "").strip()
    return AzureCliCredential(tenant_id=tenant, process_timeout=max(10, int(options.timeouts.read)))


BUILDERS: dict[str, Callable[[SignInOptions], Any]] = {
    "github": _github,
    "azure-pipelines": _azure_pipelines,
    "workload-identity": _workload_identity,
    "managed-identity": _managed_identity,
    "client-secret": _client_secret,
    "azure-cli": _azure_cli,
}


def _quiet_identity_warnings() -> None:
    """azure-identity logs each failed attempt as a warning, which Python's last-resort handler
    prints to stderr (several lines, once per client): hsmsync's own error says it all, once.
    Left alone when the logger was configured on purpose."""
    logger = logging.getLogger("azure.identity")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    for line in text.splitlines():
        line = line.strip()
        if line:
            return redact(line if len(line) <= 240 else line[:237] + "...")
    return type(exc).__name__


def _reason(method: str, exc: BaseException) -> str:
    text = _short(exc)
    if method == "managed-identity" and text.endswith("authentication unavailable."):
        return "no managed identity endpoint answered (not on an Azure host, or no identity assigned)"
    return text


class SignIn:
    """A TokenCredential that signs in once with the first method that works, then keeps using it.

    Concurrent first requests wait for the one sign-in; a failed sign-in is remembered and
    raised again at once (one error, however many clients ask)."""

    def __init__(self, options: SignInOptions) -> None:
        _quiet_identity_warnings()
        self.options = options
        self._lock = threading.Lock()
        self._credential: Any = None
        self._failure: SignInError | None = None
        self.method: str | None = None
        self.claims: dict[str, Any] = {}

    def methods(self) -> list[str]:
        return detect(self.options.environ) if self.options.auth == "auto" else [self.options.auth]

    def _sign_in(self, scopes: tuple[str, ...], options: TokenRequestOptions | None) -> AccessTokenInfo:
        tried: list[str] = []
        for method in self.methods():
            credential = None
            try:
                credential = BUILDERS[method](self.options)
                info = _token_info(credential, scopes, options)
            except Exception as exc:  # noqa: BLE001 - every failure is reported in the one error
                tried.append(f"  - {method}: {_reason(method, exc)}")
                _close(credential)
                continue
            self._credential, self.method = credential, method
            self.claims = token_claims(info.token) or {}
            return info
        self._failure = SignInError(
            f"could not sign in to Azure (--auth {self.options.auth}); tried:\n" + "\n".join(tried) + "\n"
            "Choose the method with --auth or HSMSYNC_AUTH "
            f"({', '.join(AUTH_METHODS[1:])}); see README, 'Sign-in'."
        )
        raise self._failure

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._credential is None:
                return self._sign_in(scopes, options)
            credential = self._credential
        return _token_info(credential, scopes, options)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        options: dict[str, Any] = {
            k: v for k, v in kwargs.items() if k in ("claims", "tenant_id", "enable_cae")
        }
        info = self.get_token_info(*scopes, options=options or None)  # type: ignore[arg-type]
        return AccessToken(info.token, info.expires_on)

    def identity(self) -> str:
        """`app <client id> (object <oid>) in tenant <tid>, signed in with github`; empty before
        a sign-in. Users: `user <upn> (object <oid>) ...`."""
        if self.method is None:
            return ""
        c = self.claims
        app = c.get("appid") or c.get("azp")
        if c.get("idtyp") == "user" or "upn" in c or "scp" in c or not app:
            who = f"user {c.get('upn') or ''}".rstrip()
        else:
            who = f"app {app}"
        oid, tid = c.get("oid", "?"), c.get("tid", "?")
        return f"{who} (object {oid}) in tenant {tid}, signed in with {self.method}"

    def close(self) -> None:
        _close(self._credential)


def _close(credential: Any) -> None:
    close = getattr(credential, "close", None)
    if callable(close):
        close()


def _token_info(
    credential: Any, scopes: tuple[str, ...], options: TokenRequestOptions | None
) -> AccessTokenInfo:
    if hasattr(credential, "get_token_info"):
        info: AccessTokenInfo = credential.get_token_info(*scopes, options=options)
        return info
    from azure.core.credentials import AccessTokenInfo as Info

    kwargs = dict(options or {})
    token = credential.get_token(*scopes, **kwargs)
    return Info(token.token, token.expires_on)


__all__ = ["AUTH_METHODS", "ENV_AUTH", "SignIn", "SignInError", "SignInOptions", "auth_method", "detect"]
