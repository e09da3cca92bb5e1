"""LeanSession (backends/azure/transport.py) sends what requests' own session would send, for the
calls azure-core makes: same method, URL, headers, body and adapter settings; the environment's
proxies and CA bundle as requests reads them. A recording adapter stands in for the network."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.adapters import BaseAdapter

from hsmsync.backends.azure.transport import LeanSession


class _Recorder(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[requests.PreparedRequest, dict[str, Any]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append((request, kwargs))
        response = requests.Response()
        response.status_code, response._content, response.request = 200, b"{}", request
        return response

    def close(self) -> None:
        pass


def _sent(session: requests.Session, **call: Any) -> tuple[Any, ...]:
    recorder = _Recorder()
    session.mount("https://", recorder)
    session.mount("http://", recorder)
    try:
        session.request(allow_redirects=False, timeout=(5, 30), **call)
    except requests.RequestException as exc:  # refused alike (a header value requests rejects)
        return (type(exc).__name__,)
    prepared, kwargs = recorder.sent[0]
    return (
        prepared.method,
        prepared.url,
        dict(prepared.headers),
        prepared.body,
        {k: kwargs[k] for k in ("stream", "timeout", "verify", "cert")},
        _proxy_for(kwargs["proxies"]),
    )


def _proxy_for(proxies: dict[str, Any]) -> Any:
    return proxies.get("https")


_HEADERS = st.dictionaries(
    st.sampled_from(["Authorization", "Accept", "x-ms-client-request-id", "Content-Type", "User-Agent"]),
    st.one_of(st.none(), st.text(alphabet="abcdefgh -/;=", min_size=1, max_size=12)),
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE", "POST"]),
    body=st.one_of(st.none(), st.binary(max_size=40), st.text(max_size=40)),
    headers=_HEADERS,
    verify=st.sampled_from([True, False, "/etc/ssl/bundle.pem"]),
    query=st.dictionaries(st.sampled_from(["api-version", "$filter"]), st.text(max_size=10), max_size=2),
)
def test_the_lean_path_sends_what_requests_would(
    method: str, body: Any, headers: dict[str, Any], verify: Any, query: dict[str, str]
) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
        env.setenv("NO_PROXY", "skip.example")
        for host in ("hsm.managedhsm.azure.net", "skip.example"):
            call = {
                "method": method,
                "url": f"https://{host}/roleAssignments",
                "params": query,
                "data": body,
                "headers": headers,
                "verify": verify,
                "stream": False,
            }
            assert _sent(LeanSession(), **call) == _sent(requests.Session(), **call)


def test_an_empty_curl_ca_bundle_never_turns_tls_checks_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    assert LeanSession().environment_for("https://hsm.managedhsm.azure.net/")[1] is True


def test_an_explicit_no_proxy_replaces_the_environment_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "a.example")
    session = LeanSession()
    assert (
        session.environment_for("https://a.example/", "b.example")[0]["https"] == "http://proxy.example:3128"
    )
    assert session.environment_for("https://b.example/", "b.example")[0] == {}
    assert session.environment_for("https://a.example/")[0] == {}  # not cached from the explicit one
