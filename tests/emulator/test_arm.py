"""The ARM subset through the real AuthorizationManagementClient and KeyVaultManagementClient."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.keyvault import KeyVaultManagementClient

from hsmsync.core.state import ArmRoleAssignment
from hsmsync_emulator import Emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import EmulatorCredential

from .conftest import ADMIN, HSM_RESOURCE_ID, OTHER, SUB, TENANT, raw, saved

MHSM_CONTRIBUTOR = "18500a29-7fe2-46b2-a342-b16a415e101d"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/AppRG"


def authz(emu: Emulator) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(
        EmulatorCredential(emu, ADMIN),
        SUB,
        base_url=emu.arm_url,
        connection_verify=str(emu.ca_cert_path),
    )


def params(role: str, principal: str, kind: str = "ServicePrincipal") -> RoleAssignmentCreateParameters:
    return RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        principal_id=principal,
        principal_type=kind,
    )


def test_role_assignment_crud(emu: Emulator, state_file: Path) -> None:
    client = authz(emu)
    name = str(uuid.uuid4())
    created = client.role_assignments.create(HSM_RESOURCE_ID, name, params(MHSM_CONTRIBUTOR, OTHER))
    assert created.id == f"{HSM_RESOURCE_ID}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert created.role_definition_id.endswith(f"/roleDefinitions/{MHSM_CONTRIBUTOR}")
    assert created.role_definition_id.startswith(f"/subscriptions/{SUB}/")
    assert (created.principal_type, created.scope) == ("ServicePrincipal", HSM_RESOURCE_ID)
    stored = saved(state_file).arm.role_assignments
    assert [(a.name, a.role_definition_id, a.principal_type) for a in stored] == [
        (name, MHSM_CONTRIBUTOR, "ServicePrincipal")
    ]
    # ARM compares scopes case-insensitively
    assert client.role_assignments.get(HSM_RESOURCE_ID.lower(), name).principal_id == OTHER
    # the same PUT again is idempotent
    assert client.role_assignments.create(HSM_RESOURCE_ID, name, params(MHSM_CONTRIBUTOR, OTHER)).name == name
    deleted = client.role_assignments.delete(HSM_RESOURCE_ID, name)
    assert deleted is not None and deleted.name == name
    assert client.role_assignments.delete(HSM_RESOURCE_ID, name) is None  # 204
    assert emu.request_log[-1][2] == 204
    with pytest.raises(ResourceNotFoundError):
        client.role_assignments.get(HSM_RESOURCE_ID, name)
    assert saved(state_file).arm.role_assignments == ()


def test_duplicates_and_bad_names(emu: Emulator) -> None:
    client = authz(emu)
    client.role_assignments.create(HSM_RESOURCE_ID, str(uuid.uuid4()), params(MHSM_CONTRIBUTOR, OTHER))
    with pytest.raises(ResourceExistsError) as exc:
        client.role_assignments.create(HSM_RESOURCE_ID, str(uuid.uuid4()), params(MHSM_CONTRIBUTOR, OTHER))
    assert (exc.value.status_code, exc.value.error.code) == (409, "RoleAssignmentExists")
    with pytest.raises(HttpResponseError) as exc:
        client.role_assignments.create(HSM_RESOURCE_ID, "not-a-guid", params(READER, OTHER))
    assert (exc.value.status_code, exc.value.error.code) == (400, "InvalidRoleAssignmentId")


def test_list_filters(emu: Emulator) -> None:
    client = authz(emu)
    at_rg = client.role_assignments.create(RG_SCOPE, str(uuid.uuid4()), params(READER, OTHER, "User")).name
    at_hsm = client.role_assignments.create(
        HSM_RESOURCE_ID, str(uuid.uuid4()), params(MHSM_CONTRIBUTOR, ADMIN)
    ).name
    elsewhere = f"/subscriptions/{SUB}/resourceGroups/Other"
    other = client.role_assignments.create(elsewhere, str(uuid.uuid4()), params(READER, ADMIN, "Group")).name

    def names(scope: str, flt: str | None = None) -> set[str]:
        return {a.name for a in client.role_assignments.list_for_scope(scope, filter=flt)}

    assert names(HSM_RESOURCE_ID, "atScope()") == {at_rg, at_hsm}
    assert names(RG_SCOPE.upper(), "atScope()") == {at_rg}
    assert names(RG_SCOPE) == {at_rg, at_hsm}  # no filter: at, above and below
    assert names(f"/subscriptions/{SUB}", f"principalId eq '{ADMIN}'") == {at_hsm, other}
    assert names(f"/subscriptions/{SUB}", f"assignedTo('{OTHER}')") == {at_rg}


def test_filters_arm_does_not_support_are_refused_as_arm_refuses_them(emu: Emulator) -> None:
    for path in (
        f"{HSM_RESOURCE_ID}/providers/Microsoft.Authorization/roleAssignments?$filter=principalName eq 'x'",
        f"{HSM_RESOURCE_ID}/providers/Microsoft.Authorization/roleDefinitions?$filter=roleType eq 'x'",
    ):
        r = raw(emu, "GET", path + "&api-version=2022-04-01", hsm=None)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "InvalidFilterInQueryString"), path
        assert r.json()["error"]["message"].startswith(
            f"The filter '{path.split('=', 1)[1]}' is not supported."
        )
    both = "roleName eq 'Managed HSM Contributor' and type eq 'BuiltInRole'"
    r = raw(
        emu,
        "GET",
        f"{HSM_RESOURCE_ID}/providers/Microsoft.Authorization/roleDefinitions?$filter={both}&api-version=2022-04-01",
        hsm=None,
    )
    assert r.status_code == 200 and [d["name"] for d in r.json()["value"]] == [MHSM_CONTRIBUTOR]


def test_role_definitions(emu: Emulator) -> None:
    client = authz(emu)
    role = client.role_definitions.get(HSM_RESOURCE_ID, MHSM_CONTRIBUTOR)
    assert role.role_name == "Managed HSM Contributor"
    assert (
        role.id
        == f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{MHSM_CONTRIBUTOR}"
    )
    found = list(
        client.role_definitions.list(HSM_RESOURCE_ID, filter="roleName eq 'Managed HSM contributor'")
    )
    assert [r.name for r in found] == [MHSM_CONTRIBUTOR]
    with pytest.raises(ResourceNotFoundError):
        client.role_definitions.get(HSM_RESOURCE_ID, str(uuid.uuid4()))


def test_managed_hsm_resource(emu: Emulator) -> None:
    client = KeyVaultManagementClient(
        EmulatorCredential(emu, ADMIN),
        SUB,
        base_url=emu.arm_url,
        connection_verify=str(emu.ca_cert_path),
    )
    hsm = client.managed_hsms.get("apprg", "HSM1")
    assert hsm is not None
    assert hsm.id == HSM_RESOURCE_ID
    assert hsm.properties.hsm_uri == "https://hsm1.managedhsm.azure.net/"
    assert hsm.properties.tenant_id == TENANT
    assert hsm.properties.initial_admin_object_ids == [ADMIN]
    assert hsm.properties.provisioning_state == "Succeeded"
    assert [h.name for h in client.managed_hsms.list_by_subscription()] == ["Hsm1"]
    with pytest.raises(ResourceNotFoundError):
        client.managed_hsms.get("AppRG", "nope")


def test_arm_requires_a_token(emu: Emulator) -> None:
    r = raw(
        emu, "GET", f"{HSM_RESOURCE_ID}/providers/Microsoft.Authorization/roleAssignments", hsm=None, oid=None
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "AuthenticationFailed"

    r = raw(
        emu,
        "GET",
        f"{HSM_RESOURCE_ID}/providers/Microsoft.Authorization/roleAssignments",
        hsm=None,
        token="x",
    )
    assert (r.status_code, r.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")


def test_4000_role_assignments_per_subscription(start: Any, state_file: Path) -> None:
    state = saved(state_file)
    full = tuple(
        ArmRoleAssignment(
            name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"ra-{i}")),
            scope=f"{RG_SCOPE}{i % 7}",
            role_definition_id=READER,
            principal_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"p-{i}")),
        )
        for i in range(4000)
    )
    write_state_file(
        state_file, state.model_copy(update={"arm": state.arm.model_copy(update={"role_assignments": full})})
    )
    client = authz(start())
    with pytest.raises(HttpResponseError) as refused:
        client.role_assignments.create(HSM_RESOURCE_ID, str(uuid.uuid4()), params(READER, OTHER))
    assert refused.value.error is not None and refused.value.error.code == "RoleAssignmentLimitExceeded"
    client.role_assignments.delete(f"{RG_SCOPE}0", full[0].name)
    assert client.role_assignments.create(HSM_RESOURCE_ID, str(uuid.uuid4()), params(READER, OTHER)).name
