"""The SDK clients' transport (backends/azure/transport.py) keeps what requests took from the
environment: proxies (HTTPS_PROXY, NO_PROXY) and the CA bundle; it never takes a password from
~/.netrc in place of the bearer token. Driven through the real SDK client against the emulator,
behind a real CONNECT proxy."""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync.backends.azure import make_azure_backend
from hsmsync.backends.azure.assignment_pages import list_assignments
from hsmsync.backends.azure.transport import LeanSession
from tests.live.conftest import FAST_ENV, HSM, endpoints_for
from tests.signin import with_sign_in


class _Tunnel(socketserver.StreamRequestHandler):
    """An HTTPS proxy: answers CONNECT host:port and relays bytes both ways."""

    def handle(self) -> None:
        line = self.rfile.readline().decode("latin-1")
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        method, target, _ = line.split(" ", 2)
        self.server.seen.append(f"{method} {target}")  # type: ignore[attr-defined]
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            ends = [self.connection, upstream]
            while True:
                ready, _, _ = select.select(ends, [], [], 5)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)


@pytest.fixture
def proxy() -> Iterator[Any]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Tunnel)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _list_once(emulator: Any, tmp_path: Path) -> int:
    endpoints = endpoints_for(emulator, tmp_path / "endpoints.json")
    with make_azure_backend(endpoints=endpoints, environ=with_sign_in(FAST_ENV)) as backend:
        client = backend.clients.access_control(emulator.endpoints["hsms"][HSM])
        return len(list(list_assignments(client, HSM, "/")))


def test_calls_go_through_the_proxy_the_environment_names(
    emulator: Any, tmp_path: Path, proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert _list_once(emulator, tmp_path) > 0
    hsm_port = emulator.endpoints["hsms"][HSM].rsplit(":", 1)[1]
    assert f"CONNECT 127.0.0.1:{hsm_port}" in proxy.seen


def test_no_proxy_skips_it(
    emulator: Any, tmp_path: Path, proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert _list_once(emulator, tmp_path) > 0
    assert proxy.seen == []


def test_a_netrc_entry_never_replaces_the_bearer_token(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests' own session would send this login (Basic) instead of the SDK's bearer token.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-a-token\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert _list_once(emulator, tmp_path) > 0


def test_the_environment_is_read_once_per_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle.pem"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "bypassed.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = LeanSession()
    proxies, verify = session.environment_for("https://a.example/x")
    assert (proxies["https"], verify) == ("http://proxy.example:3128", str(bundle))
    assert session.environment_for("https://bypassed.example/x") == ({}, str(bundle))
    monkeypatch.setenv("HTTPS_PROXY", "http://elsewhere.example:3128")
    assert session.environment_for("https://A.example/y")[0]["https"] == "http://proxy.example:3128"
    assert session.environment_for("https://b.example/")[0]["https"] == "http://elsewhere.example:3128"
