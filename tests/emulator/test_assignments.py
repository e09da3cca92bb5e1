"""Role assignments on the data plane, driven through the real KeyVaultAccessControlClient."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from hsmsync_emulator import Emulator, FaultConfig
from tests.signin import token_for

from .conftest import (
    ADMIN,
    BACKUP_USER,
    CRYPTO_USER,
    DEF_PREFIX,
    KEY_USER,
    OTHER,
    StartEmulator,
    acl,
    raw,
    saved,
    send_raw,
)


def test_create_get_list_delete_and_persist(emu: Emulator, state_file: Path) -> None:
    client = acl(emu)
    name = str(uuid.uuid4())
    created = client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER, name=name)
    assert created.name == name
    assert created.role_assignment_id == f"/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert created.properties.role_definition_id == DEF_PREFIX + BACKUP_USER
    assert created.properties.principal_id == OTHER
    assert created.properties.scope == "/"

    on_disk = saved(state_file).hsms["hsm1"].role_assignments
    assert any(a.name == name and a.role_definition_id == BACKUP_USER for a in on_disk)

    got = client.get_role_assignment("/", name)
    assert got.properties.principal_id == OTHER
    assert name in {a.name for a in client.list_role_assignments("/")}

    client.delete_role_assignment("/", name)
    assert name not in {a.name for a in saved(state_file).hsms["hsm1"].role_assignments}
    with pytest.raises(ResourceNotFoundError) as exc:
        client.get_role_assignment("/", name)
    assert exc.value.error.code == "RoleAssignmentNotFound"
    # The SDK swallows the 404 of a delete; the emulator did answer 404.
    client.delete_role_assignment("/", name)
    assert emu.request_log[-1][2] == 404


def test_accepts_bare_guid_definition_ids_and_unknown_principals(emu: Emulator) -> None:
    stranger = str(uuid.uuid4())
    created = acl(emu).create_role_assignment("/", BACKUP_USER, stranger)
    assert created.properties.role_definition_id == DEF_PREFIX + BACKUP_USER


def test_repeated_put_is_role_assignment_exists(emu: Emulator) -> None:
    client = acl(emu)
    name = str(uuid.uuid4())
    client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER, name=name)
    with pytest.raises(HttpResponseError) as exc:
        client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER, name=name)
    assert exc.value.status_code == 400
    assert exc.value.error.code == "RoleAssignmentExists"


def test_same_role_principal_scope_under_another_name(emu: Emulator) -> None:
    client = acl(emu)
    first = str(uuid.uuid4())
    client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER, name=first)
    with pytest.raises(HttpResponseError) as exc:
        client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER)
    assert exc.value.status_code == 400
    assert exc.value.error.code == "MatchingRoleAssignmentExists"
    assert (
        f"Role assignment '{first}' already adds role '{DEF_PREFIX}{BACKUP_USER}' "
        f"to principal '{OTHER}' in scope '/'." in exc.value.error.message
    )
    assert "(Activity ID: " in exc.value.error.message
    # The same pair at another scope is a different assignment.
    client.create_role_assignment("/keys", DEF_PREFIX + BACKUP_USER, OTHER)


def test_same_name_at_two_scopes_as_recorded(emu: Emulator) -> None:
    client = acl(emu)
    name = str(uuid.uuid4())
    a = client.create_role_assignment("/keys", DEF_PREFIX + BACKUP_USER, OTHER, name=name)
    b = client.create_role_assignment("/keys/k2", DEF_PREFIX + BACKUP_USER, OTHER, name=name)
    assert (a.properties.scope, b.properties.scope) == ("/keys", "/keys/k2")
    # ids never carry the scope
    assert (
        a.role_assignment_id
        == b.role_assignment_id
        == f"/providers/Microsoft.Authorization/roleAssignments/{name}"
    )


def test_bad_input(emu: Emulator) -> None:
    client = acl(emu)
    with pytest.raises(HttpResponseError) as exc:
        client.create_role_assignment("/", DEF_PREFIX + str(uuid.uuid4()), OTHER)
    assert (exc.value.status_code, exc.value.error.code) == (400, "RoleDefinitionNotFound")
    with pytest.raises(HttpResponseError) as exc:
        client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER, name="not-a-guid")
    assert (exc.value.status_code, exc.value.error.code) == (400, "BadParameter")
    with pytest.raises(HttpResponseError) as exc:
        client.create_role_assignment("/secrets", DEF_PREFIX + BACKUP_USER, OTHER)
    assert (exc.value.status_code, exc.value.error.code) == (400, "BadParameter")


def test_listing_rule_for_scopes(emu: Emulator) -> None:
    client = acl(emu)
    at_keys = client.create_role_assignment("/keys", DEF_PREFIX + BACKUP_USER, OTHER).name
    at_k2 = client.create_role_assignment("/keys/k2", DEF_PREFIX + BACKUP_USER, OTHER).name

    def scopes(scope: str, **kw: str) -> dict[str, str]:
        return {a.name: a.properties.scope for a in client.list_role_assignments(scope, **kw)}

    root = scopes("/")
    assert at_keys in root and at_k2 not in root
    assert set(root.values()) == {"/", "/keys"}
    assert scopes("/keys") == root
    k2 = scopes("/keys/k2")
    assert at_k2 in k2 and at_keys in k2
    assert set(k2.values()) == {"/", "/keys", "/keys/k2"}
    assert "/keys/k1" not in scopes("/keys/k2").values()
    assert scopes("/", filter="atScope()") == root
    # principalId eq: at, above and below
    mine = scopes("/", filter=f"principalId eq '{OTHER}'")
    assert mine == {at_keys: "/keys", at_k2: "/keys/k2"}
    assert scopes("/keys/k1", filter=f"principalId eq '{KEY_USER}'") == {
        "e0c1d2a3-0000-4000-8000-000000000004": "/keys/k1"
    }
    assert scopes("/keys/k2", filter=f"principalId eq '{KEY_USER}'") == {}


def test_triple_slash_and_percent_encoded_paths(emu: Emulator) -> None:
    token = {"Authorization": f"Bearer {token_for(emu, ADMIN)}"}
    r3 = send_raw(
        emu, "GET", "///providers/Microsoft.Authorization/roleAssignments?api-version=7.6", headers=token
    )
    assert r3.status == 200
    # http.server itself reduces leading slashes (CPython gh-87389); scope '' is '/'
    assert emu.request_log[-1][1] == "/providers/Microsoft.Authorization/roleAssignments"
    assert len(r3.json()["value"]) == 3
    r = raw(
        emu,
        "GET",
        "/providers/Microsoft.Authorization/roleAssignments?api-version=7.3"
        f"&$filter=principalId%20eq%20%27{ADMIN}%27",
    )
    assert {a["properties"]["roleDefinitionId"].rsplit("/", 1)[1] for a in r.json()["value"]} == {
        "a290e904-7015-4bba-90c8-60543313cdb4",
        CRYPTO_USER,
    }
    r = raw(emu, "GET", "/providers/Microsoft.Authorization/roleAssignments?$filter=assignedTo('x')")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "BadParameter")


def test_paging_follows_next_link(start: StartEmulator) -> None:
    emu = start(FaultConfig(throttle=0, page_size=2))
    client = acl(emu)
    for _ in range(3):
        client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    emu.clear_log()
    names = [a.name for a in client.list_role_assignments("/")]
    assert len(names) == len(set(names)) == 6
    lists = [e for e in emu.request_log if e[1].endswith("/roleAssignments")]
    assert [e[2] for e in lists] == [200, 200, 200]
    first = raw(emu, "GET", "/providers/Microsoft.Authorization/roleAssignments?api-version=7.6")
    link = first.json()["nextLink"]
    assert link.startswith(emu.hsm_urls["hsm1"] + "/providers/Microsoft.Authorization/roleAssignments?")
    assert "$skiptoken=2" in link
    filtered = [a.name for a in client.list_role_assignments("/", filter=f"principalId eq '{ADMIN}'")]
    assert len(filtered) == 2


def test_limits(emu: Emulator) -> None:
    client = acl(emu)
    # 3 assignments at '/' in the state already; 50 at HSM scope ('/' and '/keys') in all
    for _ in range(47):
        client.create_role_assignment("/keys", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    with pytest.raises(HttpResponseError) as exc:
        client.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    assert (exc.value.status_code, exc.value.error.code) == (400, "RoleAssignmentLimitExceeded")
    # 10 per key, counted per key (k1 holds one already)
    for _ in range(9):
        client.create_role_assignment("/keys/k1", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    with pytest.raises(HttpResponseError) as exc:
        client.create_role_assignment("/keys/k1", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    assert exc.value.error.code == "RoleAssignmentLimitExceeded"
    client.create_role_assignment("/keys/k2", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))


def test_a_listing_follows_every_change(emu: Emulator) -> None:
    """Unfiltered lists are answered from an index of the HSM's current state: built again
    after every change, never stale."""
    client = acl(emu)

    def names(scope: str) -> list[str]:
        return [a.name for a in client.list_role_assignments(scope)]

    before = names("/keys/k2")
    made = client.create_role_assignment("/keys/k2", DEF_PREFIX + BACKUP_USER, OTHER).name
    assert names("/keys/k2") == [*before, made]
    client.delete_role_assignment("/keys/k2", made)
    assert names("/keys/k2") == before


def test_the_index_answers_as_a_scan_does() -> None:
    """Same items, same order (the state's), at every scope, whatever the scopes' case."""
    from hsmsync.core.state import DataRoleAssignment, HsmState
    from hsmsync_emulator.filters import AssignmentFilter
    from hsmsync_emulator.rbac import list_assignments
    from hsmsync_emulator.rbac_index import AssignmentIndex

    scopes = ["/keys/k1", "/", "/keys/K1", "/keys", "/keys/k2", "/", "/keys/k1", "/keys/k3"]
    hsm = HsmState(
        url="https://h.managedhsm.azure.net",
        role_assignments=tuple(
            DataRoleAssignment(
                name=str(uuid.UUID(int=i + 1)),
                scope=s,
                role_definition_id=CRYPTO_USER,
                principal_id=str(uuid.UUID(int=1000 + i)),
            )
            for i, s in enumerate(scopes)
        ),
    )
    index = AssignmentIndex(hsm)
    for scope in ("/", "/keys", "/keys/k1", "/keys/K1", "/keys/k2", "/keys/k9"):
        scanned = list_assignments(hsm, scope, AssignmentFilter())
        assert list_assignments(hsm, scope, AssignmentFilter(), index) == scanned, scope
    assert [a.scope for a in list_assignments(hsm, "/keys/k1", AssignmentFilter(), index)] == [
        "/keys/k1",
        "/",
        "/keys/K1",
        "/keys",
        "/",
        "/keys/k1",
    ]
