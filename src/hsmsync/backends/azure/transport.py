"""The HTTP transport of every SDK client: azure-core's requests transport over a lean session.

azure-core sends each call through `requests.Session.request`, whose general-purpose layer, on
every call, scans the whole environment for proxy settings (HTTPS_PROXY, NO_PROXY, ...), looks
for ~/.netrc, reads REQUESTS_CA_BUNDLE, merges the session's cookies, hooks and settings into the
request and stores the response's cookies. At fleet scale that layer was about a third of
hsmsync's CPU per call, for nothing an SDK call uses: azure-core never follows redirects there
(its own policy does), never passes cookies, auth or hooks.

`LeanSession` keeps requests' own parts, its `PreparedRequest` and `HTTPAdapter` (pooling, TLS,
proxies, timeouts), and reads the environment once per origin the way requests reads it (its own
`merge_environment_settings`, on a session that trusts the environment), then never again in the
run. What azure-core does not send (a redirect to follow, cookies, auth, hooks) still goes through
requests' full path.

~/.netrc is never read: its entry for a host would replace the bearer token the SDK sets (requests'
netrc auth writes the Authorization header). Cookies a service sets are not sent back (no Azure
endpoint hsmsync calls relies on them). Proxies and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE apply as
requests applies them: the bundle only where hsmsync's own `connection_verify` is True; each client
(one per HSM, subscription or Graph) reads them once, when it first calls an origin. Session-level
settings (`auth`, `proxies`, `verify`, `cert`, `params`, `hooks`) are not used: nothing sets them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.util.retry import Retry

_NO_RETRIES = Retry(total=False, redirect=False, raise_on_status=False)  # azure-core's: it retries


class LeanSession(requests.Session):
    """A requests session for SDK calls: the environment read once per origin, no per-call
    cookie, netrc, hook or redirect machinery (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # the full path (the fallback) reads nothing from the environment either
        self._environment: dict[str, tuple[Mapping[str, str], Any]] = {}
        self._lock = threading.Lock()
        adapter = HTTPAdapter(max_retries=_NO_RETRIES)  # as azure-core mounts its own
        for prefix in ("http://", "https://"):
            self.mount(prefix, adapter)

    def environment_for(self, url: str, no_proxy: str | None = None) -> tuple[Mapping[str, str], Any]:
        """(proxies, CA bundle or True) from the environment for `url`'s origin, read once (with
        an explicit `no_proxy`, which replaces NO_PROXY in requests' reading, read every time)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        found = self._environment.get(origin) if no_proxy is None else None
        if found is not None:
            return found
        with self._lock, requests.Session() as reader:  # trust_env: requests' own reading of it
            explicit = {} if no_proxy is None else {"no_proxy": no_proxy}
            merged = reader.merge_environment_settings(url, explicit, None, True, None)
            # An empty CURL_CA_BUNDLE read as "" (requests before 2.28) must never mean "no TLS check".
            found = (
                {k: v for k, v in merged["proxies"].items() if k != "no_proxy"},
                merged["verify"] or True,
            )
            if no_proxy is None:
                self._environment[origin] = found
        return found

    def request(  # type: ignore[override]  # noqa: PLR0913  # requests' signature, keyword for keyword
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Any = None,
        hooks: Any = None,
        stream: bool | None = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        env_proxies, env_verify = self.environment_for(url, (proxies or {}).get("no_proxy"))
        proxies = {**env_proxies, **(proxies or {})}
        verify = env_verify if verify is True or verify is None else verify
        if allow_redirects or cookies or auth or hooks:  # not an SDK call: requests' full path
            return super().request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                cookies=cookies,
                files=files,
                auth=auth,
                timeout=timeout,
                allow_redirects=allow_redirects,
                proxies=proxies,
                hooks=hooks,
                stream=stream,
                verify=verify,
                cert=cert,
                json=json,
            )
        merged_headers = CaseInsensitiveDict(self.headers)
        for name, value in (headers or {}).items():  # as requests merges them: None removes one
            if value is None:
                merged_headers.pop(name, None)
            else:
                merged_headers[name] = value
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method.upper(),
            url=url,
            headers=merged_headers,
            files=files,
            data=data or {},
            params=params or {},
            json=json,
        )
        started = perf_counter()
        response = self.get_adapter(prepared.url or url).send(
            prepared,
            stream=bool(stream),
            timeout=timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )
        response.elapsed = timedelta(seconds=perf_counter() - started)
        if not stream or response.is_redirect:  # as requests does: frees the connection for the next call
            response.content  # noqa: B018
        return response


def requests_transport(**kwargs: Any) -> RequestsTransport:
    """azure-core's requests transport over a `LeanSession` (closed with the client)."""
    return RequestsTransport(session=LeanSession(), session_owner=True, **kwargs)
