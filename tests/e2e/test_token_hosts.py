"""Where tokens may go (issue 10, item 6), proven with traffic that never leaves the machine.

Every host name that is not loopback resolves (patched `socket.getaddrinfo`) to a recording TLS
listener on 127.0.0.2 that stands for "public Azure" and "an attacker's host" alike: it answers
the Key Vault challenge (naming a resource of whatever host was asked, as an attacker would) and
records every request that carried an Authorization header, by the host it was meant for.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hsmsync.backends.azure.endpoints import settings_from_endpoints
from hsmsync.core.errors import StateError
from hsmsync_emulator import Emulator, start_emulator
from tests.conftest import CONTOSO, CliResult, run_cli

PUBLIC_NAMES = (
    "*.managedhsm.azure.net",
    "management.azure.com",
    "graph.microsoft.com",
    "evil.example",
    "*.evil.example",
)
REAL_TOKEN = "real-azure-token"  # what the (stand-in) real sign-in hands out


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the public names and 127.0.0.2 (the listener's)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recorder")])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in PUBLIC_NAMES]
    sans.append(x509.IPAddress(ipaddress.IPv4Address("127.0.0.2")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "recorder.pem", directory / "recorder.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Recorder:
    """The listener standing for every non-loopback host."""

    def __init__(self, directory: Path) -> None:
        self.cert, key = _certificate(directory)
        self.authorized: list[tuple[str, str]] = []  # (host asked for, Authorization value)
        self.requests: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.requests.append(f"{self.command} {host}{self.path}")
                auth = self.headers.get("Authorization")
                if auth:
                    recorder.authorized.append((host, auth))
                    self._send(403, {"error": {"code": "Forbidden", "message": "recorded"}})
                    return
                # The resource an attacker would name: the host's parent domain, as Azure names
                # managedhsm.azure.net, so the SDK's challenge-resource check passes.
                challenge = (
                    'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-'
                    f'2d7cd011db47", resource="https://{host.split(".", 1)[-1]}"'
                )
                self._send(401, {"error": {"code": "Unauthorized"}}, {"WWW-Authenticate": challenge})

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _answer

        self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hosts_with_token(self) -> set[str]:
        return {host for host, _ in self.authorized}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """The recording listener, and a resolver that sends every non-loopback name to it."""
    rec = Recorder(tmp_path)
    real_getaddrinfo = socket.getaddrinfo

    def offline_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(text)
            is_literal = True
        except ValueError:
            is_literal = False
        if text == "localhost" or (is_literal and ipaddress.ip_address(text).is_loopback):
            return real_getaddrinfo(host, port, *args, **kwargs)
        assert not is_literal, f"a connection to {text} would leave the machine"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.2", rec.port))]

    monkeypatch.setattr(socket, "getaddrinfo", offline_getaddrinfo)
    yield rec
    rec.stop()


class RealLikeCredential:
    """Stands in for a real sign-in (SignIn): any scope gets the "real" token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(REAL_TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(REAL_TOKEN, int(time.time()) + 3600)

    def close(self) -> None:
        return None


@pytest.fixture
def real_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hsmsync.backends.azure.clients.sign_in_for", lambda settings: RealLikeCredential())


@pytest.fixture
def emulated(tmp_path: Path, recorder: Recorder) -> Iterator[tuple[Path, Emulator]]:
    """The Contoso example served by the emulator; its CA and the recorder's both trusted."""
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "emulated.json")
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    with start_emulator(tmp_path / "emulated.json", workdir=tmp_path / "emu") as emulator:
        bundle = tmp_path / "trusted.pem"
        bundle.write_bytes(emulator.ca_cert_path.read_bytes() + recorder.cert.read_bytes())
        emulator.write_endpoints(tmp_path / "endpoints.json")
        _edit_endpoints(tmp_path, ca_cert=str(bundle))
        yield tmp_path, emulator


def _edit_endpoints(directory: Path, **changes: Any) -> None:
    path = directory / "endpoints.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def _plan(directory: Path, *extra: str) -> Any:
    return run_cli("plan", "--live", "--endpoints", "endpoints.json", *extra, cwd=directory)


def test_an_hsm_missing_from_the_endpoints_file_is_an_error_not_public_azure(
    emulated: tuple[Path, Emulator], recorder: Recorder
) -> None:
    directory, _ = emulated
    _edit_endpoints(directory, hsms={})
    result = _plan(directory)
    assert recorder.authorized == [], "the emulator's token reached a public host"
    assert result.exit_code == 1, result.stderr
    assert "endpoints field 'hsms': HSM 'contoso' of the manifest is missing" in result.stderr


def test_an_endpoints_file_without_arm_is_an_error_not_public_azure(
    emulated: tuple[Path, Emulator], recorder: Recorder
) -> None:
    directory, _ = emulated
    _edit_endpoints(directory, arm=None)
    result = _plan(directory)
    assert recorder.authorized == [], "the emulator's token reached management.azure.com"
    assert result.exit_code == 1, result.stderr
    assert "endpoints field 'arm': missing" in result.stderr


def test_emulator_file_cannot_name_a_remote_host(
    emulated: tuple[Path, Emulator], recorder: Recorder, real_credential: None
) -> None:
    directory, emulator = emulated
    port = emulator.hsm_urls["contoso"].rsplit(":", 1)[1]
    _edit_endpoints(directory, hsms={"contoso": f"https://evil.example:{port}"})
    result = _plan(directory, "--allow-host", "evil.example")  # no flag widens an emulator's hosts
    assert "evil.example" not in recorder.hosts_with_token()
    assert result.exit_code == 1, result.stderr
    assert "endpoints field 'hsms.contoso': an emulator's URLs must be on loopback" in result.stderr
    assert "https://evil.example" in result.stderr


def _plan_signing_in_at(emulated: tuple[Path, Emulator], authority: str) -> CliResult:
    """`plan --live` with a client secret, the endpoints file naming `authority` (`{port}` is the
    emulator's authority port) as where to sign in."""
    directory, emulator = emulated
    port = emulator.authority_url.rsplit(":", 1)[1]
    _edit_endpoints(directory, authority=authority.format(port=port))
    env = {
        "AZURE_TENANT_ID": emulator.tenant_id,
        "AZURE_CLIENT_ID": str(uuid.uuid4()),
        "AZURE_CLIENT_SECRET": "s",
    }
    return run_cli("plan", "--live", "--endpoints", "endpoints.json", cwd=directory, environ=env)


def test_emulator_authority_must_be_loopback(emulated: tuple[Path, Emulator], recorder: Recorder) -> None:
    # The authority receives the client secret or federated token: never a remote host for an emulator.
    result = _plan_signing_in_at(emulated, "https://evil.example:{port}")
    assert recorder.requests == []
    assert result.exit_code == 1, result.stderr
    assert "endpoints field 'authority': an emulator's URLs must be on loopback" in result.stderr


def test_non_emulator_file_cannot_send_the_arm_token_to_its_host(
    emulated: tuple[Path, Emulator], recorder: Recorder, real_credential: None
) -> None:
    directory, _ = emulated
    _edit_endpoints(
        directory,
        emulator=False,
        authority=None,
        hsms={"contoso": "https://contosomhsm.managedhsm.azure.net"},
        arm="https://evil.example",
        graph="https://graph.microsoft.com",
    )
    result = _plan(directory)
    assert "evil.example" not in recorder.hosts_with_token()
    assert result.exit_code == 1, result.stderr
    assert (
        "endpoints field 'arm': refusing to send Azure credentials to https://evil.example" in result.stderr
    )


def test_allow_host_on_the_command_line_lets_real_tokens_go_there(
    emulated: tuple[Path, Emulator], recorder: Recorder, real_credential: None
) -> None:
    directory, _ = emulated
    _edit_endpoints(
        directory,
        emulator=False,
        authority=None,
        hsms={"contoso": "https://contosomhsm.managedhsm.azure.net"},
        arm="https://evil.example",
        graph="https://graph.microsoft.com",
    )
    result = _plan(directory, "--allow-host", "evil.example")
    assert result.exit_code == 1  # the recorder refuses everything
    assert "evil.example" in recorder.hosts_with_token()
    # Tokens went to the allowed host and to Azure's own, nowhere else.
    assert recorder.hosts_with_token() <= {"evil.example", "contosomhsm.managedhsm.azure.net"}


def test_a_manifest_url_outside_azure_gets_no_real_token(
    tmp_path: Path, recorder: Recorder, real_credential: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without an endpoints file: the manifest (editable in a pull request) names the HSM's host.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(recorder.cert))
    manifest = (CONTOSO / "hsmsync.yaml").read_text()
    (tmp_path / "hsmsync.yaml").write_text(
        manifest.replace("https://contosomhsm.managedhsm.azure.net", "https://contoso.evil.example")
    )
    result = run_cli("plan", "--live", cwd=tmp_path)
    assert "contoso.evil.example" not in recorder.hosts_with_token()
    assert result.exit_code == 1, result.stderr
    assert (
        "HSM 'contoso': refusing to send Azure credentials to https://contoso.evil.example" in result.stderr
    )


def test_real_credentials_keep_the_challenge_resource_check(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    path.write_text(
        json.dumps(
            {
                "emulator": False,
                "hsms": {"contoso": "https://127.0.0.1:8443"},
                "arm": "https://127.0.0.1:8444",
            }
        )
    )
    settings = settings_from_endpoints(path, allow_hosts=["127.0.0.1"])
    assert settings.credential is None and settings.authority is None  # real Azure sign-in
    assert settings.verify_challenge_resource is True
    assert not settings.hosts.emulator


def test_localhost_must_resolve_to_loopback_for_emulator_tokens(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    path.write_text(
        json.dumps(
            {
                "emulator": True,
                "hsms": {"contoso": "https://localhost:8443"},
                "arm": "https://127.0.0.1:8444",
                "authority": "https://127.0.0.1:8445",
            }
        )
    )
    with pytest.raises(StateError, match=r"'hsms.contoso': an emulator's URLs must be on loopback"):
        settings_from_endpoints(path, resolve=lambda host: ["10.1.2.3"])
    assert settings_from_endpoints(path, resolve=lambda host: ["127.0.0.1", "::1"]).hosts.emulator


def test_every_request_is_checked_right_before_it_is_sent() -> None:
    # Redirects and retries pass through the same check: a request to a host the rule does not
    # permit never reaches the transport.
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.transport import HttpTransport
    from azure.core.rest import HttpRequest

    from hsmsync.backends.azure.hosts import HostGuardPolicy, HostRule
    from hsmsync.core.errors import BackendError

    sent: list[str] = []

    class Transport(HttpTransport):  # type: ignore[type-arg]
        def send(self, request: Any, **kwargs: Any) -> Any:
            sent.append(request.url)
            raise AssertionError("sent")

        def open(self) -> None: ...
        def close(self) -> None: ...
        def __exit__(self, *args: Any) -> None: ...

    emulator = Pipeline(Transport(), policies=[HostGuardPolicy(HostRule(emulator=True))])
    with pytest.raises(BackendError, match="refusing to send the emulator's token to https://10.0.0.1"):
        emulator.run(HttpRequest("GET", "https://10.0.0.1/keys"))
    real = Pipeline(Transport(), policies=[HostGuardPolicy(HostRule.for_real_credentials(["kv.corp"]))])
    with pytest.raises(BackendError, match="--allow-host vault.example"):
        real.run(HttpRequest("GET", "https://vault.example/keys"))
    assert sent == []
    for allowed in (
        "https://x.managedhsm.azure.net/",
        "https://management.usgovcloudapi.net/",
        "https://kv.corp/",
    ):
        with pytest.raises(AssertionError, match="sent"):
            real.run(HttpRequest("GET", allowed))
    assert len(sent) == 3


# Finding 11: the check and the transport must read a URL's host the same way. urllib3 (which
# requests, azure-core's transport, parses with) reads `https://evil.example\.managedhsm.azure.net`
# as host evil.example; `urlsplit` read a *.managedhsm.azure.net host and let the token go.
HOSTILE_URLS = (
    "https://evil.example\\.managedhsm.azure.net/keys",  # backslash: urllib3 connects to evil.example
    "https://evil.example@contoso.managedhsm.azure.net/keys",  # userinfo
    "https://contoso.managedhsm.azure.net\t/keys",  # a control character
    "https://contoso%2emanagedhsm.azure.net/keys",  # percent-encoding in the host
    "https://contoso.managedhsm.azure.net /keys",  # whitespace
)


def _guarded_pipeline(rule: Any, recorder: Recorder) -> Any:
    """A pipeline as the clients build it (the host check, then the bearer token), over the real
    requests transport, so what the check lets through really is sent (to the recorder)."""
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport

    from hsmsync.backends.azure.hosts import HostGuardPolicy

    policies = [
        HostGuardPolicy(rule),
        BearerTokenCredentialPolicy(RealLikeCredential(), "https://x/.default"),
    ]
    return Pipeline(RequestsTransport(connection_verify=str(recorder.cert)), policies=policies)


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_url_the_transport_reads_differently_gets_no_real_token(url: str, recorder: Recorder) -> None:
    from azure.core.rest import HttpRequest

    from hsmsync.backends.azure.hosts import HostRule
    from hsmsync.core.errors import BackendError

    pipeline = _guarded_pipeline(HostRule.for_real_credentials(), recorder)
    with pytest.raises(BackendError, match="refusing to send any token to"):
        pipeline.run(HttpRequest("GET", url))
    assert recorder.requests == [], "the request left hsmsync"


def test_userinfo_before_a_loopback_host_gets_no_emulator_token(recorder: Recorder) -> None:
    from azure.core.rest import HttpRequest

    from hsmsync.backends.azure.hosts import HostRule
    from hsmsync.core.errors import BackendError

    pipeline = _guarded_pipeline(HostRule(emulator=True), recorder)
    url = f"https://evil.example.com@127.0.0.2:{recorder.port}/keys"
    with pytest.raises(BackendError, match=r"it carries userinfo \(user@host\)"):
        pipeline.run(HttpRequest("GET", url))
    assert recorder.requests == []


def test_an_endpoints_url_with_a_backslash_is_refused_naming_the_field(
    emulated: tuple[Path, Emulator], recorder: Recorder, real_credential: None
) -> None:
    directory, _ = emulated
    _edit_endpoints(
        directory,
        emulator=False,
        authority=None,
        hsms={"contoso": "https://evil.example\\.managedhsm.azure.net"},
        arm="https://management.azure.com",
        graph="https://graph.microsoft.com",
    )
    result = _plan(directory)
    assert recorder.requests == []
    assert result.exit_code == 1, result.stderr
    assert (
        "endpoints field 'hsms.contoso': 'https://evil.example\\\\.managedhsm.azure.net' is refused: it "
        in (result.stderr)
    )


def test_an_emulator_url_with_userinfo_is_refused_naming_the_field(
    emulated: tuple[Path, Emulator], recorder: Recorder
) -> None:
    directory, emulator = emulated
    port = emulator.hsm_urls["contoso"].rsplit(":", 1)[1]
    _edit_endpoints(directory, hsms={"contoso": f"https://evil.example.com@127.0.0.1:{port}"})
    result = _plan(directory)
    assert result.exit_code == 1, result.stderr
    assert "endpoints field 'hsms.contoso'" in result.stderr
    assert "it carries userinfo (user@host)" in result.stderr


def test_an_authority_with_a_backslash_is_refused_before_any_sign_in(
    emulated: tuple[Path, Emulator], recorder: Recorder
) -> None:
    # The authority receives the client secret: the same parse decides where it goes.
    result = _plan_signing_in_at(emulated, "https://evil.example\\@127.0.0.1:{port}")
    assert recorder.requests == []
    assert result.exit_code == 1, result.stderr
    assert (
        "endpoints field 'authority'" in result.stderr
        and "is refused: it contains a backslash" in result.stderr
    )
