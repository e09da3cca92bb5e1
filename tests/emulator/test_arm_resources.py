"""Managed HSM settings, diagnostic settings, Key Vault access policies and custom Azure roles,
through the real KeyVaultManagementClient, MonitorManagementClient and AuthorizationManagementClient."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization.v2022_04_01 import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import Permission, RoleDefinition
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    AccessPolicyEntry,
    ManagedHsm,
    ManagedHsmProperties,
    MHSMIPRule,
    MHSMNetworkRuleSet,
    Permissions,
    VaultAccessPolicyParameters,
    VaultAccessPolicyProperties,
)
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource, LogSettings

from hsmsync.core.state import AccessPolicy, VaultState
from hsmsync_emulator import Emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import EmulatorCredential

from .conftest import ADMIN, AUDITOR, HSM_RESOURCE_ID, KEY_USER, OTHER, SUB, TENANT, base_state, saved

VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/AppRG/providers/Microsoft.KeyVault/vaults/Vault1"
STORAGE = f"/subscriptions/{SUB}/resourceGroups/AppRG/providers/Microsoft.Storage/storageAccounts/logs"
SUB_SCOPE = f"/subscriptions/{SUB}"
ROLE = "5b1c7f3e-2a4d-4e6f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    state = base_state()
    vault = VaultState(
        url="https://vault1.vault.azure.net",
        resource_id=VAULT_ID,
        tenant_id=TENANT,
        access_policies=(AccessPolicy(object_id=OTHER, secrets=("get",)),),
    )
    path = tmp_path / "state.json"
    write_state_file(path, state.model_copy(update={"vaults": {"vault1": vault}}))
    return path


def _kwargs(emu: Emulator) -> dict[str, object]:
    return {"base_url": emu.arm_url, "connection_verify": str(emu.ca_cert_path)}


def keyvault(emu: Emulator) -> KeyVaultManagementClient:
    return KeyVaultManagementClient(EmulatorCredential(emu, ADMIN), SUB, **_kwargs(emu))


def monitor(emu: Emulator) -> MonitorManagementClient:
    return MonitorManagementClient(EmulatorCredential(emu, ADMIN), SUB, **_kwargs(emu))


def authz(emu: Emulator) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(EmulatorCredential(emu, ADMIN), SUB, **_kwargs(emu))


# ----------------------------------------------------------------------------------- HSM settings


def _patch(**props: object) -> ManagedHsm:
    return ManagedHsm(properties=ManagedHsmProperties(**props))


def test_hsm_settings_are_read_and_patched(emu: Emulator, state_file: Path) -> None:
    client = keyvault(emu)
    hsm = client.managed_hsms.get("AppRG", "Hsm1")
    assert hsm is not None and hsm.properties is not None
    assert (hsm.properties.enable_purge_protection, hsm.properties.public_network_access) == (
        False,
        "Enabled",
    )
    acls = MHSMNetworkRuleSet(
        default_action="Deny", bypass="None", ip_rules=[MHSMIPRule(value="10.0.0.0/24")]
    )
    poller = client.managed_hsms.begin_update(
        "AppRG",
        "Hsm1",
        _patch(enable_purge_protection=True, public_network_access="Disabled", network_acls=acls),
        polling_interval=0,
    )
    updated = poller.result()
    assert updated.properties.provisioning_state == "Succeeded"
    assert updated.properties.network_acls.ip_rules[0].value == "10.0.0.0/24"
    settings = saved(state_file).hsms["hsm1"].settings
    assert settings.purge_protection is True
    assert settings.public_network_access == "Disabled"
    assert (settings.network_acls.default_action, settings.network_acls.bypass) == ("Deny", "None")
    assert settings.network_acls.ip_rules == ("10.0.0.0/24",)
    # Fields left out of the PATCH keep their values; the same retention is accepted.
    client.managed_hsms.begin_update(
        "AppRG", "Hsm1", _patch(soft_delete_retention_in_days=90), polling_interval=0
    ).result()
    assert saved(state_file).hsms["hsm1"].settings == settings


def test_hsm_refuses_what_the_service_refuses(emu: Emulator) -> None:
    client = keyvault(emu)
    client.managed_hsms.begin_update("AppRG", "Hsm1", _patch(enable_purge_protection=True)).result()
    with pytest.raises(HttpResponseError) as off:
        client.managed_hsms.begin_update("AppRG", "Hsm1", _patch(enable_purge_protection=False)).result()
    assert off.value.status_code == 400 and "irreversible" in str(off.value.message)
    with pytest.raises(HttpResponseError) as retention:
        client.managed_hsms.begin_update("AppRG", "Hsm1", _patch(soft_delete_retention_in_days=30)).result()
    assert retention.value.status_code == 400 and "after the managed HSM is created" in str(retention.value)
    with pytest.raises(ResourceNotFoundError):
        client.managed_hsms.begin_update("AppRG", "Nope", _patch(enable_purge_protection=True)).result()


# ---------------------------------------------------------------------------- diagnostic settings


def test_diagnostic_settings_crud_on_the_hsm(emu: Emulator, state_file: Path) -> None:
    client = monitor(emu)
    assert list(client.diagnostic_settings.list(HSM_RESOURCE_ID)) == []
    body = DiagnosticSettingsResource(
        storage_account_id=STORAGE, logs=[LogSettings(category="AuditEvent", enabled=True)]
    )
    created = client.diagnostic_settings.create_or_update(HSM_RESOURCE_ID, "audit", body)
    assert (created.name, created.storage_account_id) == ("audit", STORAGE)
    assert [(log.category, log.enabled) for log in created.logs] == [("AuditEvent", True)]
    stored = saved(state_file).hsms["hsm1"].diagnostic_settings
    assert [(d.name, d.categories, d.storage_account_id) for d in stored] == [
        ("audit", ("AuditEvent",), STORAGE)
    ]
    got = client.diagnostic_settings.get(HSM_RESOURCE_ID, "audit")
    assert got.logs[0].category == "AuditEvent"
    assert [d.name for d in client.diagnostic_settings.list(HSM_RESOURCE_ID)] == ["audit"]
    # A category group stands for the HSM's categories.
    grouped = DiagnosticSettingsResource(
        workspace_id=STORAGE, logs=[LogSettings(category_group="audit", enabled=True)]
    )
    client.diagnostic_settings.create_or_update(HSM_RESOURCE_ID, "audit", grouped)
    assert saved(state_file).hsms["hsm1"].diagnostic_settings[0].workspace_id == STORAGE
    client.diagnostic_settings.delete(HSM_RESOURCE_ID, "audit")
    client.diagnostic_settings.delete(HSM_RESOURCE_ID, "audit")  # 204: already gone
    assert saved(state_file).hsms["hsm1"].diagnostic_settings == ()
    with pytest.raises(ResourceNotFoundError):
        client.diagnostic_settings.get(HSM_RESOURCE_ID, "audit")


def test_diagnostic_settings_validation(emu: Emulator) -> None:
    client = monitor(emu)
    nowhere = DiagnosticSettingsResource(logs=[LogSettings(category="AuditEvent", enabled=True)])
    with pytest.raises(HttpResponseError, match="At least one storage account"):
        client.diagnostic_settings.create_or_update(HSM_RESOURCE_ID, "x", nowhere)
    wrong = DiagnosticSettingsResource(
        storage_account_id=STORAGE, logs=[LogSettings(category="Nope", enabled=True)]
    )
    with pytest.raises(HttpResponseError, match="Category 'Nope' is not supported"):
        client.diagnostic_settings.create_or_update(HSM_RESOURCE_ID, "x", wrong)
    with pytest.raises(ResourceNotFoundError):
        list(client.diagnostic_settings.list(f"/subscriptions/{SUB}/resourceGroups/AppRG"))


# -------------------------------------------------------------------------- vault access policies


def _entry(object_id: str, tenant: str = TENANT, **lists: list[str]) -> AccessPolicyEntry:
    keys = lists.pop("keys", None)
    return AccessPolicyEntry(
        tenant_id=tenant, object_id=object_id, permissions=Permissions(keys_property=keys, **lists)
    )


def _update(client: KeyVaultManagementClient, kind: str, *entries: AccessPolicyEntry) -> None:
    params = VaultAccessPolicyParameters(
        properties=VaultAccessPolicyProperties(access_policies=list(entries))
    )
    client.vaults.update_access_policy("AppRG", "Vault1", kind, params)


def _policies(state_file: Path) -> dict[str, AccessPolicy]:
    return {p.object_id: p for p in saved(state_file).vaults["vault1"].access_policies}


def test_vault_get_shows_access_policies(emu: Emulator) -> None:
    vault = keyvault(emu).vaults.get("AppRG", "Vault1")
    assert vault.properties.tenant_id == TENANT
    assert vault.properties.enable_rbac_authorization is False
    assert vault.properties.vault_uri == "https://vault1.vault.azure.net/"
    [policy] = vault.properties.access_policies
    assert (policy.object_id, policy.permissions.secrets) == (OTHER, ["get"])
    with pytest.raises(ResourceNotFoundError):
        keyvault(emu).vaults.get("AppRG", "Nope")


def test_add_merges_remove_subtracts_replace_replaces(emu: Emulator, state_file: Path) -> None:
    client = keyvault(emu)
    _update(client, "add", _entry(ADMIN, keys=["Get", "WrapKey"]))
    _update(client, "add", _entry(ADMIN, keys=["sign"], secrets=["all"]))
    policies = _policies(state_file)
    assert policies[ADMIN].keys == ("get", "sign", "wrapkey")
    assert len(policies[ADMIN].secrets) == 8
    assert policies[OTHER].secrets == ("get",)  # others untouched
    _update(client, "remove", _entry(ADMIN, keys=["wrapKey"], secrets=["all"]))
    assert _policies(state_file)[ADMIN] == AccessPolicy(object_id=ADMIN, keys=("get", "sign"))
    _update(client, "remove", _entry(ADMIN, keys=["get", "sign"]))  # nothing left: the entry goes
    assert ADMIN not in _policies(state_file)
    _update(client, "remove", _entry(KEY_USER, keys=["get"]))  # no entry: nothing to do
    _update(client, "replace", _entry(AUDITOR, secrets=["list"]))
    assert _policies(state_file) == {AUDITOR: AccessPolicy(object_id=AUDITOR, secrets=("list",))}


def test_access_policy_validation_and_limit(emu: Emulator, state_file: Path) -> None:
    client = keyvault(emu)
    with pytest.raises(HttpResponseError, match="not the vault's tenant"):
        _update(client, "add", _entry(ADMIN, tenant=str(uuid.UUID(int=1)), keys=["get"]))
    with pytest.raises(HttpResponseError, match="Invalid keys permission"):
        _update(client, "add", _entry(ADMIN, keys=["fly"]))
    many = [_entry(str(uuid.UUID(int=i + 10)), secrets=["get"]) for i in range(1023)]
    _update(client, "add", *many)
    assert len(_policies(state_file)) == 1024
    with pytest.raises(HttpResponseError) as full:
        _update(client, "add", _entry(ADMIN, keys=["get"]))
    assert full.value.error.code == "AccessPolicyLimitExceeded"


# ---------------------------------------------------------------------------- custom Azure roles


def _role(
    name: str = "App Deployer", actions: tuple[str, ...] = ("Microsoft.Compute/*/read",)
) -> RoleDefinition:
    return RoleDefinition(
        role_name=name,
        description="deploys the app",
        role_type="CustomRole",
        permissions=[Permission(actions=list(actions), not_actions=[], data_actions=[], not_data_actions=[])],
        assignable_scopes=[SUB_SCOPE],
    )


def test_custom_azure_role_lifecycle(emu: Emulator, state_file: Path) -> None:
    client = authz(emu)
    created = client.role_definitions.create_or_update(SUB_SCOPE, ROLE, _role())
    assert (created.name, created.role_type) == (ROLE, "CustomRole")
    [stored] = saved(state_file).arm.role_definitions
    assert (stored.name, stored.role_name, stored.permissions[0].actions) == (
        ROLE,
        "App Deployer",
        ("Microsoft.Compute/*/read",),
    )
    rg = f"{SUB_SCOPE}/resourceGroups/AppRG"
    customs = list(client.role_definitions.list(rg, filter="type eq 'CustomRole'"))
    assert [r.name for r in customs] == [ROLE]
    assert all(
        r.role_type == "BuiltInRole" for r in client.role_definitions.list(rg, filter="type eq 'BuiltInRole'")
    )
    assert ROLE in {r.name for r in client.role_definitions.list(rg)}
    assert client.role_definitions.get(SUB_SCOPE, ROLE).permissions[0].actions == ["Microsoft.Compute/*/read"]
    client.role_definitions.create_or_update(SUB_SCOPE, ROLE, _role(actions=("Microsoft.Compute/*",)))
    assert saved(state_file).arm.role_definitions[0].permissions[0].actions == ("Microsoft.Compute/*",)
    with pytest.raises(HttpResponseError) as same_name:
        client.role_definitions.create_or_update(SUB_SCOPE, str(uuid.uuid4()), _role())
    assert same_name.value.status_code == 409
    assert client.role_definitions.delete(SUB_SCOPE, ROLE).name == ROLE
    assert client.role_definitions.delete(SUB_SCOPE, ROLE) is None
    assert saved(state_file).arm.role_definitions == ()


def test_custom_role_with_assignments_cannot_be_deleted(emu: Emulator) -> None:
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

    client = authz(emu)
    client.role_definitions.create_or_update(SUB_SCOPE, ROLE, _role())
    params = RoleAssignmentCreateParameters(
        role_definition_id=f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{ROLE}",
        principal_id=OTHER,
        principal_type="Group",
    )
    client.role_assignments.create(HSM_RESOURCE_ID, str(uuid.uuid4()), params)
    with pytest.raises(HttpResponseError) as busy:
        client.role_definitions.delete(SUB_SCOPE, ROLE)
    assert busy.value.status_code == 409
    with pytest.raises(HttpResponseError) as builtin:
        client.role_definitions.create_or_update(
            SUB_SCOPE, "18500a29-7fe2-46b2-a342-b16a415e101d", _role("x")
        )
    assert builtin.value.status_code == 403
