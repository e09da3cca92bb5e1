"""The emulator's Key Vault data plane, through SecretClient, KeyClient, CryptographyClient and
CertificateClient: authorized by the vault's current permission model, switched over ARM."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import VaultPatchParameters, VaultPatchProperties
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from hsmsync.core.state import AccessPolicy, ArmRoleAssignment, ArmRoleDefinition, ArmState, Permission
from hsmsync_emulator import Emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import EmulatorCredential
from tests.vaults import (
    AUDITOR,
    PIPELINE,
    SECRETS_APP,
    SECURITY,
    SIGNER,
    SUB,
    VAULT_ID,
    certificates,
    crypto,
    keys,
    probes,
    secrets,
    seed,
    vault_state,
)

from .conftest import StartEmulator

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"  # Azure Reader: actions only, no data actions
GROUP = "b0000000-0000-4000-8000-000000000001"


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    write_state_file(path, vault_state())
    return path


def _mgmt(emu: Emulator) -> KeyVaultManagementClient:
    return KeyVaultManagementClient(
        EmulatorCredential(emu, PIPELINE), SUB, base_url=emu.arm_url, connection_verify=str(emu.ca_cert_path)
    )


def _authz(emu: Emulator) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(
        EmulatorCredential(emu, PIPELINE), SUB, base_url=emu.arm_url, connection_verify=str(emu.ca_cert_path)
    )


def _switch(emu: Emulator, rbac: bool) -> None:
    params = VaultPatchParameters(properties=VaultPatchProperties(enable_rbac_authorization=rbac))
    vault = _mgmt(emu).vaults.update("AppRG", "payments-kv", params)
    assert vault.properties.enable_rbac_authorization is rbac


def _assign(emu: Emulator, role: str, principal: str, scope: str = VAULT_ID) -> None:
    params = RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        principal_id=principal,
        principal_type="ServicePrincipal",
    )
    _authz(emu).role_assignments.create(scope, str(uuid.uuid4()), params)


def _refusal(call: object) -> tuple[int, str]:
    assert callable(call)
    with pytest.raises(HttpResponseError) as info:
        call()
    body = info.value.response.json()
    return int(info.value.status_code or 0), str(body["error"]["innererror"]["code"])


def test_access_policies_decide_while_the_vault_is_on_them(emu: Emulator) -> None:
    key_id = seed(emu)
    calls = probes(emu, key_id)
    for call in calls.values():
        call()  # every identity does what its access policy allows
    assert secrets(emu, SECRETS_APP).get_secret("db-password").value == "s3cret"
    assert _refusal(lambda: keys(emu, SECRETS_APP).get_key("signing-key")) == (403, "ForbiddenByPolicy")
    assert _refusal(lambda: secrets(emu, AUDITOR).get_secret("db-password")) == (403, "ForbiddenByPolicy")
    assert _refusal(lambda: secrets(emu, SIGNER).set_secret("x", "y")) == (403, "ForbiddenByPolicy")
    assert _refusal(lambda: certificates(emu, SIGNER).get_certificate("tls")) == (403, "ForbiddenByPolicy")


def test_signatures_verify_and_wrapped_keys_unwrap(emu: Emulator) -> None:
    key_id = seed(emu)
    digest = hashlib.sha256(b"payload").digest()
    signature = crypto(emu, SIGNER, key_id).sign("RS256", digest).signature
    jwk = keys(emu, SECURITY).get_key("signing-key").key
    e, n = (int.from_bytes(getattr(jwk, part), "big") for part in ("e", "n"))
    public = rsa.RSAPublicNumbers(e, n).public_key()
    public.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    team = crypto(emu, SECURITY, key_id)
    wrapped = team.wrap_key("RSA-OAEP-256", b"k" * 32).encrypted_key
    assert team.unwrap_key("RSA-OAEP-256", wrapped).key == b"k" * 32
    assert certificates(emu, AUDITOR).list_properties_of_certificates().next().name == "tls"


def test_switching_to_rbac_changes_who_may_do_what_at_once(emu: Emulator) -> None:
    seed(emu)
    reader = secrets(emu, SECRETS_APP)
    assert reader.get_secret("db-password").value == "s3cret"
    _switch(emu, True)  # the access policies stop counting on the next request
    assert _refusal(lambda: reader.get_secret("db-password")) == (403, "ForbiddenByRbac")
    _assign(emu, READER, SECRETS_APP)  # actions only: no data access
    assert _refusal(lambda: reader.get_secret("db-password")) == (403, "ForbiddenByRbac")
    _assign(emu, SECRETS_USER, SECRETS_APP)
    assert reader.get_secret("db-password").value == "s3cret"
    assert _refusal(lambda: secrets(emu, AUDITOR).list_properties_of_secrets().next()) == (
        403,
        "ForbiddenByRbac",
    )
    _switch(emu, False)  # switched back: the access policies, still there, decide again
    assert [s.name for s in secrets(emu, AUDITOR).list_properties_of_secrets()] == ["db-password"]


def test_rbac_scopes_below_the_vault_and_custom_roles(start: StartEmulator, tmp_path: Path) -> None:
    role = ArmRoleDefinition(
        name="c0000000-0000-4000-8000-000000000001",
        role_name="sign only",
        permissions=(Permission(data_actions=("Microsoft.KeyVault/vaults/keys/sign/action",)),),
        assignable_scopes=(VAULT_ID,),
    )
    arm = ArmState(
        role_definitions=(role,),
        role_assignments=(
            ArmRoleAssignment(
                name="d0000000-0000-4000-8000-000000000001",
                scope=VAULT_ID + "/keys/signing-key",
                role_definition_id=role.name,
                principal_id=SIGNER,
                principal_type="ServicePrincipal",
            ),
            ArmRoleAssignment(
                name="d0000000-0000-4000-8000-000000000002",
                scope=VAULT_ID + "/secrets/db-password",
                role_definition_id=SECRETS_USER,
                principal_id=GROUP,
                principal_type="Group",
            ),
        ),
    )
    state = vault_state(rbac=False, arm=arm)
    app = state.directory[0].model_copy(update={"member_of": (GROUP,)})  # orders-api is in GROUP
    path = tmp_path / "rbac.json"
    write_state_file(path, state.model_copy(update={"directory": (app, *state.directory[1:])}))
    emu = start(state_path=path)
    key_id = seed(emu)
    secrets(emu, SECURITY).set_secret("other", "x")
    _switch(emu, True)
    digest = hashlib.sha256(b"x").digest()
    crypto(emu, SIGNER, key_id).sign("RS256", digest)  # the custom role at the key's scope
    assert secrets(emu, SECRETS_APP).get_secret("db-password").value == "s3cret"  # through its group
    assert _refusal(lambda: secrets(emu, SECRETS_APP).get_secret("other")) == (403, "ForbiddenByRbac")
    assert _refusal(lambda: keys(emu, SIGNER).create_rsa_key("new")) == (403, "ForbiddenByRbac")


def test_group_access_policy_and_bad_requests(start: StartEmulator, tmp_path: Path) -> None:
    state = vault_state(AccessPolicy(object_id=GROUP, secrets=("get", "set")))
    app = state.directory[0].model_copy(update={"member_of": (GROUP,)})
    path = tmp_path / "group.json"
    write_state_file(path, state.model_copy(update={"directory": (app, *state.directory[1:])}))
    emu = start(state_path=path)
    client = secrets(emu, SECRETS_APP)
    client.set_secret("a", "1")
    assert client.get_secret("a").value == "1"
    with pytest.raises(HttpResponseError) as info:
        client.get_secret("absent")
    assert info.value.status_code == 404
    with pytest.raises(HttpResponseError) as info:
        _mgmt(emu).vaults.update(
            "AppRG",
            "payments-kv",
            VaultPatchParameters(properties=VaultPatchProperties(enable_soft_delete=False)),
        )
    assert info.value.status_code == 400


USER = "c1000000-0000-4000-8000-000000000001"
VIA_APP = "c2000000-0000-4000-8000-000000000002"  # the application (client) id USER must call through


def _secrets_as(emu: Emulator, oid: str, app_id: str | None) -> SecretClient:
    credential = EmulatorCredential(emu, oid, app_id=app_id)
    return SecretClient(
        emu.vault_urls["payments-kv"],
        credential,
        verify_challenge_resource=False,
        connection_verify=str(emu.ca_cert_path),
    )


def test_a_compound_entry_allows_the_user_only_through_its_application(
    start: StartEmulator, tmp_path: Path
) -> None:
    """Azure's "user via application": the entry counts for a token with the user's oid *and* the
    application's appid; neither the user alone, nor the user through another app, nor another
    principal through that app."""
    compound = AccessPolicy(object_id=USER, application_id=VIA_APP, secrets=("get",))
    state = vault_state(
        AccessPolicy(object_id=SECURITY, keys=("create",), secrets=("set",), certificates=("import",)),
        compound,
    )
    path = tmp_path / "compound.json"
    write_state_file(path, state)
    emu = start(state_path=path)
    secrets(emu, SECURITY).set_secret("db-password", "s3cret")
    assert _secrets_as(emu, USER, VIA_APP).get_secret("db-password").value == "s3cret"
    for oid, app in ((USER, None), (USER, SIGNER), (SIGNER, VIA_APP)):
        refused = _refusal(lambda oid=oid, app=app: _secrets_as(emu, oid, app).get_secret("db-password"))
        assert refused == (403, "ForbiddenByPolicy"), (oid, app)
    # through the application, only what the entry lists
    refused = _refusal(lambda: _secrets_as(emu, USER, VIA_APP).set_secret("x", "y"))
    assert refused == (403, "ForbiddenByPolicy")
    # ARM serves the entry with its applicationId, apart from any plain entry
    entries = _mgmt(emu).vaults.get("AppRG", "payments-kv").properties.access_policies
    assert [(e.object_id, e.application_id) for e in entries] == [(SECURITY, None), (USER, VIA_APP)]
