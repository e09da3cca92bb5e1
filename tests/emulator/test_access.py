"""Authentication (the 401 challenge, tokens) and authorization (data actions at scopes, 403)."""

from __future__ import annotations

import threading
import uuid
from email.message import Message
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.administration import KeyVaultPermission

from hsmsync.core.state_directory import DirectoryObject
from hsmsync_emulator import Emulator, FaultConfig, decode_claims
from hsmsync_emulator.faults import FaultInjector
from hsmsync_emulator.pipeline import Gateway, Operation
from hsmsync_emulator.server import Request, Response

from .conftest import (
    AUDITOR,
    BACKUP_USER,
    DEF_PREFIX,
    GROUP,
    KEY_USER,
    OTHER,
    POLICY_ADMIN,
    TENANT,
    acl,
    key_client,
    raw,
    saved,
)


def test_challenge_without_token(emu: Emulator) -> None:
    r = raw(emu, "GET", "/providers/Microsoft.Authorization/roleDefinitions?api-version=7.6", oid=None)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="https://managedhsm.azure.net"'
    )
    assert r.content == b""
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["x-ms-request-id"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x." + "e30" + ".", "x.bnVsbA.y"])
def test_malformed_tokens_are_401(emu: Emulator, token: str) -> None:
    r = raw(emu, "GET", "/providers/Microsoft.Authorization/roleAssignments", token=token)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "Unauthorized"


def test_tokens_round_trip(emu: Emulator) -> None:
    token = emu.authority.issue(object_id=OTHER, resource="https://managedhsm.azure.net", groups=[GROUP])
    claims = decode_claims(token)
    assert (claims["oid"], claims["groups"], claims["tid"]) == (OTHER, [GROUP], TENANT)


def test_sdk_answers_the_challenge(emu: Emulator) -> None:
    client = acl(emu)
    list(client.list_role_definitions("/"))
    list(client.list_role_definitions("/"))
    statuses = [e[2] for e in emu.request_log]
    assert statuses == [401, 200, 200]  # challenged once per host, then the token goes out up front


def test_missing_write_action_is_access_denied(emu: Emulator) -> None:
    auditor = acl(emu, AUDITOR)
    assert len(list(auditor.list_role_assignments("/"))) == 3  # the auditor may read
    with pytest.raises(HttpResponseError) as exc:
        auditor.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, OTHER)
    assert exc.value.status_code == 403
    assert exc.value.error.code == "AccessDenied"
    assert exc.value.error.message.startswith(
        "Not authorized to access Microsoft.KeyVault/managedHsm/roleAssignments/write/action on / (Activity ID: "
    )
    with pytest.raises(HttpResponseError) as exc:
        list(acl(emu, OTHER).list_role_definitions("/"))
    assert "roleDefinitions/read/action on /" in exc.value.error.message


def test_group_membership_grants(emu: Emulator) -> None:
    acl(emu).create_role_assignment("/", DEF_PREFIX + POLICY_ADMIN, GROUP)
    member = acl(emu, OTHER, groups=(GROUP,))
    member.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    with pytest.raises(HttpResponseError):
        acl(emu, OTHER).create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))


def test_key_scoped_assignment_grants_that_key_only(emu: Emulator) -> None:
    keys = key_client(emu, KEY_USER)
    assert keys.get_key("k1").name == "k1"
    with pytest.raises(HttpResponseError) as exc:
        keys.get_key("k2")
    assert exc.value.status_code == 403
    assert "keys/read/action on /keys/k2" in exc.value.error.message
    with pytest.raises(HttpResponseError) as exc:
        list(keys.list_properties_of_keys())
    assert "on /keys " in exc.value.error.message


def test_keys_scope_covers_every_key(emu: Emulator) -> None:
    acl(emu).create_role_assignment("/keys", DEF_PREFIX + "21dbd100-6940-42c2-9190-5d6cb909625b", OTHER)
    keys = key_client(emu, OTHER)
    assert keys.get_key("k2").name == "k2"
    assert {k.name for k in keys.list_properties_of_keys()} == {"k1", "k2"}
    with pytest.raises(HttpResponseError):  # but not the role assignments at '/'
        list(acl(emu, OTHER).list_role_assignments("/"))


def test_wildcards_and_not_data_actions(emu: Emulator) -> None:
    admin = acl(emu)
    role = admin.set_role_definition(
        "/",
        role_name="rbac but no deletes",
        permissions=[
            KeyVaultPermission(
                data_actions=["microsoft.keyvault/managedHSM/role*"],
                not_data_actions=["Microsoft.KeyVault/managedHsm/*/delete/action"],
            )
        ],
    )
    admin.create_role_assignment("/", role.id, OTHER)
    caller = acl(emu, OTHER)
    created = caller.create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    with pytest.raises(HttpResponseError) as exc:
        caller.delete_role_assignment("/", created.name)
    assert exc.value.error.code == "AccessDenied"
    assert "roleAssignments/delete/action" in exc.value.error.message


def test_each_permission_block_is_evaluated_on_its_own(emu: Emulator, state_file: Path) -> None:
    """Block 1 excludes keys/read from keys/*; block 2 grants keys/read. The service evaluates each
    block apart, so the role reads keys; merged into one block it would not."""
    read = "Microsoft.KeyVault/managedHsm/keys/read/action"
    blocks = [
        KeyVaultPermission(data_actions=["Microsoft.KeyVault/managedHsm/keys/*"], not_data_actions=[read]),
        KeyVaultPermission(data_actions=[read]),
    ]
    admin = acl(emu)
    role = admin.set_role_definition("/", role_name="two blocks", permissions=blocks)
    assert [
        (p.data_actions, p.not_data_actions) for p in admin.get_role_definition("/", role.name).permissions
    ] == [
        (["Microsoft.KeyVault/managedHsm/keys/*"], [read]),
        ([read], []),
    ]
    [stored] = saved(state_file).hsms["hsm1"].role_definitions
    assert len(stored.permissions) == 2
    admin.create_role_assignment("/keys", role.id, OTHER)
    assert key_client(emu, OTHER).get_key("k1").name == "k1"

    only_first = admin.set_role_definition("/", name=role.name, role_name="one block", permissions=blocks[:1])
    assert len(only_first.permissions) == 1
    with pytest.raises(HttpResponseError) as exc:
        key_client(emu, OTHER).get_key("k1")
    assert exc.value.status_code == 403 and "keys/read/action on /keys/k1" in exc.value.error.message


def _in_group_by_directory(emu: Emulator, member: str) -> None:
    """`member` is in GROUP according to the directory only (its tokens carry no `groups`)."""
    directory = (
        DirectoryObject(id=GROUP, type="Group", display_name="platform"),
        DirectoryObject(id=member, type="ServicePrincipal", display_name="pipeline", member_of=(GROUP,)),
    )
    emu.store.update(lambda state: (state.model_copy(update={"directory": directory}), None))


def test_a_service_principals_group_membership_is_not_honoured_on_the_data_plane(emu: Emulator) -> None:
    # Managed HSM role-management doc, note: service-principal group membership is not honoured
    # for data-plane access; a user's groups (its token's `groups` claim) are.
    _in_group_by_directory(emu, OTHER)
    acl(emu).create_role_assignment("/", DEF_PREFIX + POLICY_ADMIN, GROUP)
    with pytest.raises(HttpResponseError) as exc:
        acl(emu, OTHER).create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))
    assert (exc.value.status_code, exc.value.error.code) == (403, "AccessDenied")
    acl(emu, OTHER, groups=(GROUP,)).create_role_assignment("/", DEF_PREFIX + BACKUP_USER, str(uuid.uuid4()))


class _Recorder:
    """A service that allows everything and records whose rights each request was checked with."""

    def __init__(self) -> None:
        self.principals: list[frozenset[str]] = []

    def resolve(self, request: Request) -> Operation:
        return Operation(lambda: Response(200, {}), action="read", scope="/")

    def is_allowed(self, principals: frozenset[str], action: str, scope: str) -> bool:
        self.principals.append(principals)
        return True


@pytest.mark.parametrize("data_plane", [True, False])
def test_directory_membership_counts_on_arm_only(emu: Emulator, data_plane: bool) -> None:
    service = _Recorder()
    audience = frozenset({"aud"})
    gateway = Gateway(
        service,
        data_plane=data_plane,
        authority=emu.authority,
        audiences=lambda _: audience,
        injector=FaultInjector(FaultConfig(throttle=0)),
        bucket=lambda: None,
        log=[],
        log_lock=threading.Lock(),
        memberships=lambda oid: frozenset({GROUP}),
    )
    token = emu.authority.issue(object_id=OTHER, resource="aud")
    headers = Message()
    headers["Authorization"] = f"Bearer {token}"
    answer = gateway(Request("GET", "/x", {}, headers, b"", "https://127.0.0.1"))
    assert answer.status == 200
    # A token without `groups`: the directory's membership on ARM (and Graph), none on the data plane.
    assert service.principals == [frozenset({OTHER}) if data_plane else frozenset({OTHER, GROUP})]
