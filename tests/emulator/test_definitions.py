"""Role definitions on the data plane: custom roles, full-replace updates, built-in protection."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.administration import KeyVaultPermission

from hsmsync.core.catalog import builtin_data_roles
from hsmsync.core.state import RoleDefinition
from hsmsync_emulator import Emulator
from hsmsync_files.statefile import write_state_file

from .conftest import ADMINISTRATOR, DEF_PREFIX, OTHER, StartEmulator, acl, raw, saved

READ = "Microsoft.KeyVault/managedHsm/keys/read/action"


def test_builtins_come_from_the_catalog(emu: Emulator) -> None:
    listed = list(acl(emu).list_role_definitions("/"))
    assert [d.name for d in listed] == [r.name for r in builtin_data_roles()]
    admin = acl(emu).get_role_definition("/", ADMINISTRATOR)
    assert admin.role_type == "AKVBuiltInRole"
    assert admin.id == DEF_PREFIX + ADMINISTRATOR
    assert admin.assignable_scopes == ["/"]


def test_hsm_specific_builtin_catalog(tmp_path: Path, start: StartEmulator, state_file: Path) -> None:
    state = saved(state_file)
    own = RoleDefinition(name=str(uuid.uuid4()), role_name="Only Role", role_type="AKVBuiltInRole")
    admin = next(r for r in builtin_data_roles() if r.name == ADMINISTRATOR)
    hsm1 = state.hsms["hsm1"].model_copy(update={"builtin_role_definitions": (admin, own)})
    write_state_file(state_file, state.model_copy(update={"hsms": {**state.hsms, "hsm1": hsm1}}))
    emu = start()
    assert [d.role_name for d in acl(emu).list_role_definitions("/")] == [
        "Managed HSM Administrator",
        "Only Role",
    ]


def test_create_update_get_delete(emu: Emulator, state_file: Path) -> None:
    client = acl(emu)
    name = str(uuid.uuid4())
    created = client.set_role_definition(
        "/",
        name=name,
        role_name="Signer",
        description="test",
        permissions=[KeyVaultPermission(data_actions=[READ])],
    )
    assert (created.name, created.role_type, created.description) == (name, "CustomRole", "test")
    assert created.id == DEF_PREFIX + name
    assert created.permissions[0].data_actions == [READ]
    assert created.permissions[0].not_actions == []
    # Update = full replace; unspecified fields come back empty. Answered 201 like a create.
    updated = client.set_role_definition(
        "/", name=name, permissions=[KeyVaultPermission(not_data_actions=[READ])]
    )
    assert (updated.role_name, updated.description) == ("", "")
    assert updated.permissions[0].data_actions == [] and updated.permissions[0].not_data_actions == [READ]
    assert emu.request_log[-1] == ("PUT", f"/providers/Microsoft.Authorization/roleDefinitions/{name}", 201)
    on_disk = saved(state_file).hsms["hsm1"].role_definitions
    assert [(r.name, [b.not_data_actions for b in r.permissions]) for r in on_disk] == [(name, [(READ,)])]

    assert client.get_role_definition("/", name).permissions[0].not_data_actions == [READ]
    assert name in [d.name for d in client.list_role_definitions("/")]
    client.delete_role_definition("/", name)
    assert saved(state_file).hsms["hsm1"].role_definitions == ()
    with pytest.raises(ResourceNotFoundError) as exc:
        client.get_role_definition("/", name)
    assert exc.value.error.code == "RoleDefinitionNotFound"
    client.delete_role_definition("/", name)  # 404 swallowed by the SDK
    assert emu.request_log[-1][2] == 404


def test_definition_without_permissions(emu: Emulator) -> None:
    r = raw(
        emu,
        "PUT",
        f"///providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}?api-version=2025-07-01",
        json_body={"properties": {"roleName": "bare"}},
    )
    assert r.status_code == 201
    assert r.json()["properties"]["permissions"] == []
    assert r.json()["properties"]["assignableScopes"] == ["/"]


def test_builtins_cannot_be_changed_or_deleted(emu: Emulator) -> None:
    client = acl(emu)
    for call in (
        lambda: client.set_role_definition("/", name=ADMINISTRATOR, role_name="mine"),
        lambda: client.delete_role_definition("/", ADMINISTRATOR),
    ):
        with pytest.raises(HttpResponseError) as exc:
            call()
        assert (exc.value.status_code, exc.value.error.code) == (400, "BadParameter")
        assert exc.value.error.message.startswith(
            "Cannot re-use the name/GUID matching that of a built-in role."
        )


def test_names_must_be_guids(emu: Emulator) -> None:
    r = raw(
        emu,
        "PUT",
        "/providers/Microsoft.Authorization/roleDefinitions/foo%20unique%20value?api-version=7.6",
        json_body={
            "properties": {
                "roleName": "x",
                "type": "CustomRole",
                "permissions": [],
                "assignableScopes": ["/"],
            }
        },
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "BadParameter"
    assert r.json()["error"]["message"].startswith("Role definition name must be a GUID (Activity ID: ")
    r = raw(emu, "GET", "/providers/Microsoft.Authorization/roleDefinitions/does_not_exist?api-version=7.6")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "RoleDefinitionNotFound")


def test_deleting_a_role_leaves_defunct_assignments(emu: Emulator) -> None:
    client = acl(emu)
    role = client.set_role_definition(
        "/", role_name="temp", permissions=[KeyVaultPermission(data_actions=[READ])]
    )
    assignment = client.create_role_assignment("/", role.id, OTHER)
    client.delete_role_definition("/", role.name)
    listed = {a.name: a.properties.role_definition_id for a in client.list_role_assignments("/")}
    assert listed[assignment.name] == DEF_PREFIX + role.name


def test_custom_role_limit_and_filter(emu: Emulator) -> None:
    client = acl(emu)
    for i in range(50):
        client.set_role_definition("/", role_name=f"role {i}")
    with pytest.raises(HttpResponseError) as exc:
        client.set_role_definition("/", role_name="one too many")
    assert (exc.value.status_code, exc.value.error.code) == (400, "RoleDefinitionLimitExceeded")
    matches = list(client.list_role_definitions("/", filter="roleName eq 'role 7'"))
    assert [d.role_name for d in matches] == ["role 7"]
