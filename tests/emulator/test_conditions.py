"""The emulator enforces role-assignment conditions (the subset hsmsync evaluates), through the
real SDK clients: a vault's data plane within each assignment's condition, and ARM role-assignment
writes within a Data Access Administrator's."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import VaultPatchParameters, VaultPatchProperties

from hsmsync.core.state import ArmRoleAssignment, ArmState
from hsmsync_emulator import Emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import EmulatorCredential
from tests.vaults import AUDITOR, PIPELINE, SECRETS_APP, SECURITY, SIGNER, SUB, VAULT_ID, secrets, vault_state

from .conftest import StartEmulator

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_ADMIN = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
DATA_ACCESS_ADMIN = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
APP_ONLY = (
    "((!(ActionMatches{'Microsoft.KeyVault/vaults/secrets/getSecret/action'})) OR "
    "(@Resource[Microsoft.KeyVault/vaults/secrets:name] StringStartsWith 'app-'))"
)
TAGGED = (
    "((!(ActionMatches{'Microsoft.KeyVault/vaults/secrets/getSecret/action'})) OR "
    "(@Resource[Microsoft.KeyVault/vaults/secrets:tags:team<$key_case_sensitive$>] StringEquals 'ops'))"
)
ONLY_SECRETS_USER = " AND ".join(
    f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/{verb}'}})) OR "
    f"(@{side}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{SECRETS_USER}}}))"
    for verb, side in (("write", "Request"), ("delete", "Resource"))
)


def _assignment(n: int, role: str, principal: str, condition: str) -> ArmRoleAssignment:
    return ArmRoleAssignment(
        name=f"e1000000-0000-4000-8000-00000000000{n}",
        scope=VAULT_ID,
        role_definition_id=role,
        principal_id=principal,
        principal_type="ServicePrincipal",
        condition=condition,
        condition_version="2.0",
    )


@pytest.fixture
def emu(start: StartEmulator, tmp_path: Path) -> Emulator:
    arm = ArmState(
        role_assignments=(
            _assignment(1, SECRETS_USER, SECRETS_APP, APP_ONLY),
            _assignment(2, SECRETS_USER, SIGNER, TAGGED),
            _assignment(3, DATA_ACCESS_ADMIN, AUDITOR, ONLY_SECRETS_USER),
        )
    )
    path = tmp_path / "conditions.json"
    write_state_file(path, vault_state(arm=arm))  # on access policies until switched
    return start(state_path=path)


def _status(call: object) -> int:
    assert callable(call)
    with pytest.raises(HttpResponseError) as info:
        call()
    return int(info.value.status_code or 0)


def test_the_vault_data_plane_honours_a_condition_about_names(emu: Emulator) -> None:
    for name in ("app-db", "payroll"):
        secrets(emu, SECURITY).set_secret(name, f"{name}-value")  # the security team's access policy
    switch = KeyVaultManagementClient(
        EmulatorCredential(emu, PIPELINE), SUB, base_url=emu.arm_url, connection_verify=str(emu.ca_cert_path)
    )
    params = VaultPatchParameters(properties=VaultPatchProperties(enable_rbac_authorization=True))
    switch.vaults.update("AppRG", "payments-kv", params)
    app = secrets(emu, SECRETS_APP)
    assert app.get_secret("app-db").value == "app-db-value"
    assert _status(lambda: app.get_secret("payroll")) == 403
    assert sorted(str(s.name) for s in app.list_properties_of_secrets()) == [
        "app-db",
        "payroll",
    ]  # not targeted
    # A condition on an attribute the emulator does not know denies, as one Azure cannot meet.
    assert _status(lambda: secrets(emu, SIGNER).get_secret("app-db")) == 403


def test_arm_holds_a_data_access_administrator_to_its_condition(emu: Emulator) -> None:
    client = AuthorizationManagementClient(
        EmulatorCredential(emu, AUDITOR), SUB, base_url=emu.arm_url, connection_verify=str(emu.ca_cert_path)
    )

    def assign(role: str) -> str:
        name = str(uuid.uuid4())
        params = RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            principal_id=SECURITY,
            principal_type="ServicePrincipal",
        )
        client.role_assignments.create(VAULT_ID, name, params)
        return name

    allowed = assign(SECRETS_USER)
    assert _status(lambda: assign(KEY_VAULT_ADMIN)) == 403
    client.role_assignments.delete(VAULT_ID, allowed)  # the delete half of the condition allows it
    # Someone with an unconditional right is not held to anyone's condition.
    owner = AuthorizationManagementClient(
        EmulatorCredential(emu, PIPELINE), SUB, base_url=emu.arm_url, connection_verify=str(emu.ca_cert_path)
    )
    params = RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{KEY_VAULT_ADMIN}",
        principal_id=SECRETS_APP,
        principal_type="ServicePrincipal",
    )
    owner.role_assignments.create(VAULT_ID, str(uuid.uuid4()), params)
