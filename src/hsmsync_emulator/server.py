"""HTTPS plumbing: one threaded stdlib server per listening port, requests in, responses out."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str  # raw (still percent-encoded), without the query
    query: dict[str, str]  # decoded; the first value of each parameter, keys as sent
    headers: Message
    body: bytes
    base_url: str  # https://127.0.0.1:<port>

    def param(self, name: str) -> str | None:
        """A query parameter by case-insensitive name (`$filter`, `$skiptoken`, `maxresults`...)."""
        wanted = name.lower()
        return next((v for k, v in self.query.items() if k.lower() == wanted), None)

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable; None = empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    raw: bytes | None = None  # sent as is instead of `body` (replies that are not JSON)


App = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid Nagle + delayed ACK
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path or "/",
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=self.headers,
            body=body,
            base_url=self.server.base_url,
        )
        response = self.server.app(request)
        if response.drop:
            self.close_connection = True
            return
        if response.raw is not None:
            payload = response.raw
        else:
            payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port: int, app: App, context: ssl.SSLContext) -> None:
        self.app = app
        self._context = context
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()
        self.connections = 0  # TLS connections accepted (clients that keep theirs alive open few)
        super().__init__(("127.0.0.1", port), _Handler)
        self.base_url = f"https://127.0.0.1:{self.server_address[1]}"

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        # The TLS handshake runs in the request's own thread (finish_request), not in the accept loop.
        return self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(30)
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        with self._open_lock:
            self._open.add(request)
            self.connections += 1
        try:
            super().finish_request(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def close_connections(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # clients that disconnect or fail TLS are not our problem


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class Listener:
    """One HTTPS port served from a background thread."""

    def __init__(self, port: int, app: App, context: ssl.SSLContext) -> None:
        self._server = _Server(port, app, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def connections(self) -> int:
        """TLS connections accepted so far."""
        return self._server.connections

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
