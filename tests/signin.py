"""Test-only sign-in helpers against the emulator's token service.

- `EmulatorCredential`: a TokenCredential whose tokens the emulator's token authority signs for
  any principal (tests acting as many principals at once). The emulator verifies them like any
  other token; hsmsync's product code never mints tokens.
- `sign_in_as`: registers an application (or, with groups, a user) in the running emulator and
  returns the environment with which hsmsync itself signs in through azure-identity: a client
  secret, or `az login` (a stand-in `az` on PATH that uses the password grant).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import SignInApplication, SignInDirectory, SignInUser
from hsmsync_emulator import Emulator, TokenAuthority, resource_of, start_emulator

AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
CONTOSO = Path(__file__).resolve().parents[1] / "examples" / "contoso"


@contextmanager
def contoso_emulator(directory: Path) -> Iterator[Emulator]:
    """The Contoso example's fresh HSM served by the emulator; manifest and endpoints.json in
    `directory` (nobody signed in yet)."""
    shutil.copy(CONTOSO / "empty-state.json", directory / "emulated.json")
    shutil.copy(CONTOSO / "hsmsync.yaml", directory / "hsmsync.yaml")
    with start_emulator(directory / "emulated.json", workdir=directory / "emu") as emulator:
        emulator.write_endpoints(directory / "endpoints.json")
        yield emulator


class EmulatorCredential:
    """Tokens for `oid` (and, for users, `groups`) signed by the emulator's token authority;
    with `app_id`, tokens of `oid` signed in through that application (appid claim: a compound
    identity's caller)."""

    def __init__(
        self,
        emu: Emulator | TokenAuthority,
        oid: str,
        groups: Sequence[str] = (),
        *,
        app_id: str | None = None,
    ) -> None:
        self.authority = emu.authority if isinstance(emu, Emulator) else emu
        self.oid = oid
        self.groups = tuple(groups)
        self.app_id = app_id
        self.requests: list[tuple[str, ...]] = []

    def _issue(self, scopes: Sequence[str]) -> str:
        self.requests.append(tuple(scopes))
        resource = resource_of(scopes[0]) if scopes else "https://managedhsm.azure.net"
        return self.authority.issue(
            object_id=self.oid, resource=resource, app_id=self.app_id, groups=self.groups or None
        )

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._issue(scopes), int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._issue(scopes), int(time.time()) + 3600)

    def close(self) -> None:
        return None


def token_for(
    emu: Emulator, oid: str, groups: Sequence[str] = (), resource: str = "https://managedhsm.azure.net"
) -> str:
    return emu.authority.issue(object_id=oid, resource=resource, groups=tuple(groups) or None)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add_sign_in(
    emu: Emulator, *, applications: Sequence[SignInApplication] = (), users: Sequence[SignInUser] = ()
) -> None:
    """Add applications and users to the running emulator's `sign_in` (persisted to its state file)."""

    def change(state: LiveState) -> tuple[LiveState, None]:
        sign_in = SignInDirectory(
            applications=(*state.sign_in.applications, *applications), users=(*state.sign_in.users, *users)
        )
        return state.model_copy(update={"sign_in": sign_in}), None

    emu.store.update(change)


def app_with_secret(emu: Emulator, oid: str) -> dict[str, str]:
    """A new application signing in as `oid` with a client secret: its environment."""
    client_id, secret = str(uuid.uuid4()), secrets.token_urlsafe(16)
    add_sign_in(
        emu,
        applications=[
            SignInApplication(client_id=client_id, object_id=oid, client_secret_sha256=(sha256(secret),))
        ],
    )
    return {
        "AZURE_TENANT_ID": emu.tenant_id,
        "AZURE_CLIENT_ID": client_id,
        "AZURE_CLIENT_SECRET": secret,
        "HSMSYNC_AUTH": "client-secret",
    }


_FAKE_AZ = """#!{python}
# A stand-in for `az account get-access-token`: the password grant at the emulator's token service.
import json, sys, time
import requests
args = sys.argv[1:]
if args[:2] != ["account", "get-access-token"]:
    sys.exit("only `az account get-access-token` is simulated")
resource = args[args.index("--resource") + 1] if "--resource" in args else args[args.index("--scope") + 1]
scope = resource if resource.endswith("/.default") else resource.rstrip("/") + "/.default"
answer = requests.post(
    "{authority}/{tenant}/oauth2/v2.0/token",
    data={{"grant_type": "password", "client_id": "{client_id}", "username": "{upn}",
          "password": "{password}", "scope": scope}},
    verify="{ca}", timeout=10,
)
if answer.status_code != 200:
    sys.stderr.write("ERROR: " + answer.json().get("error_description", "sign-in failed") + "\\n")
    sys.exit(1)
expires = int(time.time()) + 3600
print(json.dumps({{"accessToken": answer.json()["access_token"], "expires_on": expires,
                  "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(expires)),
                  "tenant": "{tenant}", "tokenType": "Bearer"}}))
"""


def user_with_az_login(emu: Emulator, oid: str, groups: Sequence[str], bin_dir: Path) -> dict[str, str]:
    """A user `oid` in `groups`, signed in with `az login`: writes a stand-in `az` into `bin_dir`
    (put it first on PATH) and returns the environment for `--auth azure-cli`."""
    upn, password = f"user-{oid[:8]}@contoso.example", secrets.token_urlsafe(12)
    add_sign_in(
        emu,
        users=[
            SignInUser(
                object_id=oid, user_principal_name=upn, password_sha256=sha256(password), groups=tuple(groups)
            )
        ],
    )
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "az"
    script.write_text(
        _FAKE_AZ.format(
            python=sys.executable,
            authority=emu.authority_url,
            tenant=emu.tenant_id,
            client_id=AZURE_CLI_CLIENT_ID,
            upn=upn,
            password=password,
            ca=emu.ca_cert_path,
        )
    )
    script.chmod(0o755)
    return {
        "AZURE_TENANT_ID": emu.tenant_id,
        "HSMSYNC_AUTH": "azure-cli",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


# The current test's sign-in environment: `run_cli` merges it under the test's own `environ`
# (reset after every test by an autouse fixture in tests/conftest.py).
CURRENT: dict[str, str] = {}


def with_sign_in(environ: dict[str, str] | None = None) -> dict[str, str]:
    return {**CURRENT, **(environ or {})}


def default_oid(emu: Emulator) -> str:
    """The identity tests act as unless they say otherwise: the first HSM's first initial admin."""
    for hsm in emu.state().hsms.values():
        if hsm.initial_admin_object_ids:
            return hsm.initial_admin_object_ids[0]
        break
    return "00000000-0000-0000-0000-000000000000"


def sign_in_as(
    emu: Emulator, oid: str | None = None, groups: Sequence[str] = (), *, bin_dir: Path | None = None
) -> dict[str, str]:
    """hsmsync (run_cli, with_sign_in) signs in as `oid` from now on in this test: an application
    with a client secret, or with `groups` a user through `az login` (stand-in `az` in bin_dir)."""
    oid = oid or default_oid(emu)
    if groups:
        assert bin_dir is not None, "a user signs in with `az login`: give bin_dir for the stand-in az"
        env = user_with_az_login(emu, oid, groups, bin_dir)
        os.environ["PATH"] = env["PATH"]  # AzureCliCredential finds `az` on the process PATH
    else:
        env = app_with_secret(emu, oid)
    CURRENT.clear()
    CURRENT.update(env)
    return env
