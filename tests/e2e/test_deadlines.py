"""Calls have deadlines (issue 10, item 7): a silent endpoint cannot stall a run.

A loopback listener accepts connections and never says a word (not even the TLS handshake), or
completes the handshake and then never answers. `plan` must give up quickly (small injected
timeouts) with an error naming the host.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hsmsync_emulator import Emulator, parse_faults
from tests.conftest import CliResult, run_cli
from tests.signin import contoso_emulator, sign_in_as

FAST = {
    "HSMSYNC_CONNECT_TIMEOUT": "0.5",
    "HSMSYNC_READ_TIMEOUT": "0.5",
    "HSMSYNC_CALL_TIMEOUT": "3",
    "HSMSYNC_RETRY_BACKOFF": "0.01",
}


class SilentListener:
    """Accepts TCP connections on 127.0.0.1 and keeps them open without answering.

    tls: complete the TLS handshake first (then the silence is in the HTTP answer)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.tls = tls
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    continue
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[tuple[Path, Emulator]]:
    with contoso_emulator(tmp_path) as emulator:
        sign_in_as(emulator)
        yield tmp_path, emulator


def _point_hsm_at(directory: Path, port: int) -> None:
    path = directory / "endpoints.json"
    data = json.loads(path.read_text())
    data["hsms"]["contoso"] = f"https://127.0.0.1:{port}"
    path.write_text(json.dumps(data))


def _plan_with_deadline(
    directory: Path, seconds: float, environ: dict[str, str] = FAST
) -> tuple[CliResult | None, float]:
    """Run `plan` in a thread; None if it has not finished within `seconds`."""
    box: list[CliResult] = []
    started = time.monotonic()
    thread = threading.Thread(
        target=lambda: box.append(
            run_cli("plan", "--live", "--endpoints", "endpoints.json", "-q", cwd=directory, environ=environ)
        ),
        daemon=True,
    )
    thread.start()
    thread.join(seconds)
    return (box[0] if box else None), time.monotonic() - started


def test_a_silent_endpoint_fails_fast_naming_the_host(emulated: tuple[Path, Emulator]) -> None:
    directory, _ = emulated
    silent = SilentListener()
    try:
        _point_hsm_at(directory, silent.port)
        result, took = _plan_with_deadline(directory, 30)
        assert result is not None, "plan is still waiting for a silent endpoint"
        assert result.exit_code == 1, result.stderr
        assert f"no answer from https://127.0.0.1:{silent.port} within 0.5 s" in result.stderr
        assert "HSM 'contoso'" in result.stderr
        assert took < 15
        assert silent.accepted >= 2  # it retried, within the call's total time
    finally:
        silent.close()


def test_an_endpoint_that_never_answers_after_the_handshake(
    emulated: tuple[Path, Emulator], tmp_path: Path
) -> None:
    directory, emulator = emulated
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(emulator.ca_cert_path, tmp_path / "emu" / "key.pem")
    silent = SilentListener(tls=context)
    try:
        _point_hsm_at(directory, silent.port)
        result, took = _plan_with_deadline(directory, 30)
        assert result is not None, "plan is still waiting for an answer"
        assert result.exit_code == 1, result.stderr
        assert f"no answer from https://127.0.0.1:{silent.port} within" in result.stderr
        assert took < 15
    finally:
        silent.close()


def test_retries_stop_at_the_calls_total_deadline(emulated: tuple[Path, Emulator]) -> None:
    directory, emulator = emulated
    emulator.set_faults(parse_faults("503=1,throttle=0"))  # every call fails; each retry waits longer
    environ = {
        **FAST,
        "HSMSYNC_RETRY_TOTAL": "100",
        "HSMSYNC_RETRY_BACKOFF": "0.2",
        "HSMSYNC_CALL_TIMEOUT": "2",
    }
    result, took = _plan_with_deadline(directory, 30, environ)
    assert result is not None, "plan is still retrying"
    assert result.exit_code == 1, result.stderr
    assert "within 2 s (retries included)" in result.stderr
    assert took < 10  # 100 retries with exponential backoff would take hours


def test_token_requests_have_deadlines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Sign-in (auto: managed identity first) asks a local token endpoint (App Service style):
    # a silent one must not stall the run either.
    from hsmsync.backends.azure import make_azure_backend

    silent = SilentListener()
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_", "IMDS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no token cache, no `az login`
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{silent.port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "header")
    errors: list[BaseException] = []

    def get_token() -> None:
        backend = make_azure_backend(endpoints=None, environ=FAST)
        try:
            backend.clients.credential.get_token("https://management.azure.com/.default")
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertions below
            errors.append(exc)

    try:
        thread = threading.Thread(target=get_token, daemon=True)
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "the token request is still waiting for a silent endpoint"
        assert errors and "127.0.0.1" in str(errors[0])
        assert silent.accepted >= 1
    finally:
        silent.close()
