"""hsmsync signs in through azure-identity's own credentials at the emulator's token service:
GitHub Actions OIDC, Azure Pipelines OIDC, a client secret, managed identity; and says once,
briefly, what it tried when nothing works."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hsmsync.core.state_directory import FederatedCredential, SignInApplication
from hsmsync_emulator import FEDERATION_AUDIENCE, GITHUB_ISSUER, PIPELINES_ISSUER, Emulator
from tests.conftest import CliResult, run_cli
from tests.signin import add_sign_in, app_with_secret, contoso_emulator, default_oid, sign_in_as

GITHUB_SUBJECT = "repo:contoso/hsm-access:ref:refs/heads/main"
PIPELINES_SUBJECT = "sc://contoso/hsm/hsm-access"
CONNECTION_ID = "5b8f1d3e-0000-4000-8000-00000000c0de"
FAST = {"HSMSYNC_HSM_RATE": "1000", "HSMSYNC_ARM_RATE": "1000"}


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[tuple[Path, Emulator]]:
    with contoso_emulator(tmp_path) as emulator:
        yield tmp_path, emulator


def _app(emu: Emulator, **kwargs: object) -> SignInApplication:
    app = SignInApplication(client_id=str(uuid.uuid4()), object_id=default_oid(emu), **kwargs)
    add_sign_in(emu, applications=[app])
    return app


def _plan(directory: Path, environ: dict[str, str], *extra: str) -> CliResult:
    return run_cli(
        "plan", "--live", "--endpoints", "endpoints.json", *extra, cwd=directory, environ={**FAST, **environ}
    )


def _header(emu: Emulator, method: str, app: str) -> str:
    return f"as app {app} (object {default_oid(emu)}) in tenant {emu.tenant_id}, signed in with {method}:"


def test_github_actions_oidc_fresh_token_for_every_entra_request(emulated: tuple[Path, Emulator]) -> None:
    directory, emu = emulated
    federated = FederatedCredential(issuer=GITHUB_ISSUER, subject=GITHUB_SUBJECT)
    app = _app(emu, federated_credentials=(federated,))
    job = emu.ci.github_job(GITHUB_SUBJECT)
    env = {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": job.url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": job.request_token,
        "AZURE_CLIENT_ID": app.client_id,
        "AZURE_TENANT_ID": emu.tenant_id,
    }
    result = _plan(directory, env)  # --auth auto detects GitHub Actions
    assert result.exit_code == 0, result.stderr
    assert _header(emu, "github", app.client_id) in result.stdout
    # One OIDC token per Entra request (ARM, the HSM data plane...): none reused.
    assert len(job.issued) == emu.login.token_requests >= 2
    assert len(set(job.issued)) == len(job.issued)


def test_github_actions_request_token_is_checked(emulated: tuple[Path, Emulator]) -> None:
    directory, emu = emulated
    app = _app(
        emu, federated_credentials=(FederatedCredential(issuer=GITHUB_ISSUER, subject=GITHUB_SUBJECT),)
    )
    job = emu.ci.github_job(GITHUB_SUBJECT)
    env = {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": job.url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "stale-request-token",
        "AZURE_CLIENT_ID": app.client_id,
        "AZURE_TENANT_ID": emu.tenant_id,
    }
    result = _plan(directory, env)
    assert result.exit_code == 1
    assert "  - github: the GitHub Actions OIDC endpoint answered 401" in result.stderr
    assert "stale-request-token" not in result.stderr and job.issued == []


def test_github_actions_subject_must_match_the_federated_credential(emulated: tuple[Path, Emulator]) -> None:
    directory, emu = emulated
    app = _app(
        emu, federated_credentials=(FederatedCredential(issuer=GITHUB_ISSUER, subject=GITHUB_SUBJECT),)
    )
    job = emu.ci.github_job("repo:contoso/hsm-access:pull_request")
    env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": job.url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": job.request_token,
        "AZURE_CLIENT_ID": app.client_id,
        "AZURE_TENANT_ID": emu.tenant_id,
    }
    result = _plan(directory, env, "--auth", "github")
    assert result.exit_code == 1
    assert "error: could not sign in to Azure (--auth github); tried:\n  - github: " in result.stderr
    assert (
        "AADSTS700213: No matching federated identity record found for presented assertion subject"
        in result.stderr
    )
    assert len(result.stderr.splitlines()) <= 4, result.stderr


def test_azure_pipelines_service_connection(
    emulated: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, emu = emulated
    app = _app(
        emu, federated_credentials=(FederatedCredential(issuer=PIPELINES_ISSUER, subject=PIPELINES_SUBJECT),)
    )
    job = emu.ci.pipelines_job(PIPELINES_SUBJECT, CONNECTION_ID)
    # AzurePipelinesCredential reads SYSTEM_OIDCREQUESTURI from the process environment itself.
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", job.url)
    env = {
        "SYSTEM_OIDCREQUESTURI": job.url,
        "SYSTEM_ACCESSTOKEN": job.request_token,
        "AZURE_SERVICE_CONNECTION_ID": CONNECTION_ID,
        "AZURE_CLIENT_ID": app.client_id,
        "AZURE_TENANT_ID": emu.tenant_id,
    }
    result = _plan(directory, env)
    assert result.exit_code == 0, result.stderr
    assert _header(emu, "azure-pipelines", app.client_id) in result.stdout
    assert len(job.issued) >= 1


def test_client_secret(emulated: tuple[Path, Emulator]) -> None:
    directory, emu = emulated
    env = app_with_secret(emu, default_oid(emu))
    del env["HSMSYNC_AUTH"]  # auto: AZURE_CLIENT_SECRET is set
    result = _plan(directory, env)
    assert result.exit_code == 0, result.stderr
    assert _header(emu, "client-secret", env["AZURE_CLIENT_ID"]) in result.stdout
    wrong = _plan(directory, {**env, "AZURE_CLIENT_SECRET": "not-it"})
    assert wrong.exit_code == 1
    assert (
        "  - client-secret: " in wrong.stderr
        and "AADSTS7000215: Invalid client secret provided." in wrong.stderr
    )
    assert "not-it" not in wrong.stderr


def test_managed_identity(emulated: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch) -> None:
    directory, emu = emulated
    app = _app(emu, managed_identity=True)
    for name, value in emu.managed_identity_environ().items():
        monkeypatch.setenv(name, value)  # ManagedIdentityCredential reads these itself
    result = _plan(directory, {"HSMSYNC_AUTH": "managed-identity"})
    assert result.exit_code == 0, result.stderr
    assert _header(emu, "managed-identity", app.client_id) in result.stdout


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def no_local_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A managed-identity endpoint that refuses connections, and no `az` on PATH."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"https://127.0.0.1:{_closed_port()}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "x")
    monkeypatch.setenv("PATH", str(tmp_path / "no-az"))


def test_nothing_works_one_short_error_listing_what_was_tried(
    emulated: tuple[Path, Emulator], no_local_identity: None
) -> None:
    directory, _ = emulated
    result = _plan(directory, {})
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: could not sign in to Azure (--auth auto); tried:"
    assert lines[1].startswith("  - managed-identity: ")
    assert lines[2].startswith("  - azure-cli: ")
    assert len(lines) == 4, result.stderr  # one error, not one per client; no SDK dumps or warnings
    explicit = _plan(directory, {}, "--auth", "client-secret")
    assert "  - client-secret: AZURE_TENANT_ID is not set" in explicit.stderr


def test_unknown_auth_method_in_the_environment_is_an_error(emulated: tuple[Path, Emulator]) -> None:
    directory, _ = emulated
    result = _plan(directory, {"HSMSYNC_AUTH": "magic"})
    assert result.exit_code == 1
    assert "HSMSYNC_AUTH='magic' must be one of auto, github, azure-pipelines" in result.stderr


def test_kubernetes_workload_identity_token_file(emulated: tuple[Path, Emulator], tmp_path: Path) -> None:
    directory, emu = emulated
    subject = "system:serviceaccount:hsm:hsmsync"
    app = _app(emu, federated_credentials=(FederatedCredential(issuer=GITHUB_ISSUER, subject=subject),))
    now = int(time.time())
    # The kubelet writes the projected service-account token; here an issuer the emulator trusts signs it.
    claims = {
        "iss": GITHUB_ISSUER,
        "sub": subject,
        "aud": FEDERATION_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(emu.ci.keys[GITHUB_ISSUER].sign(claims))
    env = {
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_CLIENT_ID": app.client_id,
        "AZURE_TENANT_ID": emu.tenant_id,
    }
    result = _plan(directory, env)
    assert result.exit_code == 0, result.stderr
    assert _header(emu, "workload-identity", app.client_id) in result.stdout


def test_developer_az_login_names_the_user(emulated: tuple[Path, Emulator], tmp_path: Path) -> None:
    directory, emu = emulated
    group = "bbbbbbbb-0000-4000-8000-0000000000f1"
    sign_in_as(emu, default_oid(emu), [group], bin_dir=tmp_path / "bin")
    result = _plan(directory, {})
    assert result.exit_code == 0, result.stderr
    upn = f"user-{default_oid(emu)[:8]}@contoso.example"
    assert (
        f"as user {upn} (object {default_oid(emu)}) in tenant {emu.tenant_id}, signed in with azure-cli:"
        in (result.stdout)
    )


def test_no_sdk_warnings_reach_the_terminal(emulated: tuple[Path, Emulator], tmp_path: Path) -> None:
    # A real process: azure-identity's warnings would go to the real stderr (Python's last resort
    # handler), which run_cli does not capture.
    directory, _ = emulated
    env = {
        "PATH": str(tmp_path / "no-az"),
        "HOME": str(tmp_path),
        "IDENTITY_ENDPOINT": f"https://127.0.0.1:{_closed_port()}/msi/token",
        "IDENTITY_HEADER": "x",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hsmsync", "plan", "--live", "--endpoints", "endpoints.json"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: could not sign in to Azure (--auth auto); tried:"
    assert len(done.stderr.splitlines()) == 4, done.stderr


def test_a_github_job_without_id_token_permission_is_told_so(
    emulated: tuple[Path, Emulator], no_local_identity: None
) -> None:
    directory, _ = emulated
    result = _plan(directory, {"GITHUB_ACTIONS": "true", "AZURE_CLIENT_ID": str(uuid.uuid4())})
    assert result.exit_code == 1
    assert (
        "  - github: ACTIONS_ID_TOKEN_REQUEST_URL is not set (the job needs `permissions: id-token: write`)"
        in result.stderr
    )
    assert "  - managed-identity: " in result.stderr  # a self-hosted runner's identity is still tried
