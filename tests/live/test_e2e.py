"""End to end: AzureBackend -> the real Azure SDK clients -> the local HTTPS emulator."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from hsmsync.backends.azure import AzureBackend, make_azure_backend
from hsmsync.backends.base import Outcome
from hsmsync.core.errors import BackendError
from hsmsync.core.ids import deterministic_name
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.state import LiveState, Permission, RoleDefinition
from hsmsync.core.target import ARM, Target
from tests.changes import flat_change
from tests.signin import with_sign_in

from .conftest import (
    ADMIN,
    ADMINISTRATOR,
    APP,
    CONTRIBUTOR,
    CRYPTO_USER,
    FAST_ENV,
    GROUP,
    HSM,
    HSM_RID,
    OUTSIDER,
    READER,
    TENANT,
    emulator_for,
    endpoints_for,
    request,
)

CUSTOM = "7c5f8c2e-1d7a-4a53-9d0e-3f1f8d3c2a11"


def data_assignment(action: Action, scope: str, role: str, principal: str, name: str | None = None) -> Change:
    return flat_change(
        id=f"data:{HSM}:{scope}:{role}:{principal}",
        action=action,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=Plane.DATA,
        target=Target.hsm(HSM),
        scope=scope,
        name=name or deterministic_name("data", HSM, scope, role, principal),
        role=role,
        role_id=role,
        reason="test",
        principal_id=principal,
        principal_type="ServicePrincipal",
    )


def role_definition(action: Action, data_actions: tuple[str, ...] = ()) -> Change:
    definition = RoleDefinition(
        name=CUSTOM,
        role_name="Key Rotator",
        description="rotates keys",
        permissions=(Permission(data_actions=data_actions),),
    )
    return flat_change(
        id=f"data:{HSM}:role_definition:{CUSTOM}",
        action=action,
        kind=Kind.ROLE_DEFINITION,
        plane=Plane.DATA,
        target=Target.hsm(HSM),
        scope="/",
        name=CUSTOM,
        role="Key Rotator",
        role_id=CUSTOM,
        reason="test",
        definition=None if action is Action.DELETE else definition,
    )


def arm_assignment(action: Action, principal: str = APP, principal_type: str = "ServicePrincipal") -> Change:
    return flat_change(
        id=f"arm:{principal}",
        action=action,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=Plane.MANAGEMENT,
        target=ARM,
        scope=HSM_RID,
        name=deterministic_name("management", HSM_RID, CONTRIBUTOR, principal),
        role="Managed HSM contributor",
        role_id=CONTRIBUTOR,
        reason="test",
        principal_id=principal,
        principal_type=principal_type,
    )


def keyed(state: LiveState) -> set[tuple[str, str, str]]:
    return {(a.scope, a.role_definition_id, a.principal_id) for a in state.hsms[HSM].role_assignments}


def test_full_discovery_reads_everything(backend: AzureBackend) -> None:
    live = backend.read_state(request(full=True))
    hsm = live.hsms[HSM]
    app = with_sign_in()["AZURE_CLIENT_ID"]
    assert backend.describe() == (
        f"live (Azure SDK, emulator) as app {app} (object {ADMIN}) in tenant {TENANT}, signed in with "
        f"client-secret: {HSM}: full discovery (3 keys)"
    )
    assert hsm.keys == ("k1", "k2", "k3")
    assert ("/keys/k2", CRYPTO_USER, OUTSIDER) in keyed(live)
    assert ("/", ADMINISTRATOR, ADMIN) in keyed(live)
    assert hsm.role_definitions == ()
    assert hsm.builtin_role_definitions and ADMINISTRATOR in {r.name for r in hsm.builtin_role_definitions}
    assert hsm.initial_admin_object_ids == (ADMIN,)
    assert hsm.url == "https://contoso.managedhsm.azure.net" and hsm.resource_id == HSM_RID
    # Deterministic: the same request reads the same state (saved plans compare fingerprints).
    assert backend.read_state(request(full=True)) == live


def test_principal_discovery_queries_only_known_principals(backend: AzureBackend) -> None:
    live = backend.read_state(request(full=False))
    assert backend.describe().startswith("live (Azure SDK, emulator) as app ")
    assert f", signed in with client-secret: {HSM}: principal discovery (3 principals" in backend.describe()
    assert ("/", ADMINISTRATOR, ADMIN) in keyed(live)
    assert all(a.principal_id != OUTSIDER for a in live.hsms[HSM].role_assignments)


def test_data_assignments_at_every_scope(backend: AzureBackend, emulator: Any) -> None:
    backend.read_state(request())
    creates = [
        data_assignment(Action.CREATE, "/", CRYPTO_USER, APP),
        data_assignment(Action.CREATE, "/keys", CRYPTO_USER, GROUP),
        data_assignment(Action.CREATE, "/keys/k1", CRYPTO_USER, APP),
    ]
    for change in creates:
        assert backend.apply_change(change) is Outcome.DONE
    for change in creates:  # same name, same content: RoleAssignmentExists
        assert backend.apply_change(change) is Outcome.ALREADY_DONE
    # Same role, principal and scope under another name: MatchingRoleAssignmentExists.
    other_name = data_assignment(
        Action.CREATE, "/keys/k1", CRYPTO_USER, APP, name="9f0e8d7c-6b5a-4948-8372-615243342516"
    )
    assert backend.apply_change(other_name) is Outcome.ALREADY_DONE

    for full in (True, False):
        live = backend.read_state(request(full=full))
        got = {(a.scope, a.name) for a in live.hsms[HSM].role_assignments}
        assert {(c.scope, c.name) for c in creates} <= got, full

    for change in creates:
        delete = data_assignment(
            Action.DELETE, change.scope, CRYPTO_USER, change.principal_id or "", change.name
        )
        assert backend.apply_change(delete) is Outcome.DONE
        assert backend.apply_change(delete) is Outcome.ALREADY_DONE
    live = backend.read_state(request())
    assert not {(c.scope, c.name) for c in creates} & {
        (a.scope, a.name) for a in live.hsms[HSM].role_assignments
    }
    # The emulator's own store agrees with what the backend read.
    assert keyed(emulator.state()) == keyed(live)


def test_name_taken_by_other_content_is_an_error(backend: AzureBackend) -> None:
    backend.read_state(request())
    taken = data_assignment(
        Action.CREATE, "/", CRYPTO_USER, GROUP, name="00000000-0000-4000-8000-00000000a001"
    )
    with pytest.raises(BackendError, match="already used by an assignment of role " + ADMINISTRATOR):
        backend.apply_change(taken)


def test_custom_role_definition_lifecycle(backend: AzureBackend) -> None:
    backend.read_state(request())
    rotate = ("Microsoft.KeyVault/managedHsm/keys/read/action",)
    assert backend.apply_change(role_definition(Action.CREATE, rotate)) is Outcome.DONE
    assert backend.apply_change(role_definition(Action.CREATE, rotate)) is Outcome.ALREADY_DONE
    wider = (*rotate, "Microsoft.KeyVault/managedHsm/keys/rotate/action")
    assert backend.apply_change(role_definition(Action.UPDATE, wider)) is Outcome.DONE
    live = backend.read_state(request())
    (custom,) = live.hsms[HSM].role_definitions
    assert (custom.name, custom.role_name, custom.role_type) == (CUSTOM, "Key Rotator", "CustomRole")
    assert [set(b.data_actions) for b in custom.permissions] == [set(wider)]
    assert custom.assignable_scopes == ("/",)
    assert CUSTOM not in {r.name for r in live.hsms[HSM].builtin_role_definitions or ()}

    assign = data_assignment(Action.CREATE, "/keys/k3", CUSTOM, APP)
    assert backend.apply_change(assign) is Outcome.DONE
    assert ("/keys/k3", CUSTOM, APP) in keyed(backend.read_state(request()))

    assert backend.apply_change(role_definition(Action.DELETE)) is Outcome.DONE
    assert backend.apply_change(role_definition(Action.DELETE)) is Outcome.ALREADY_DONE
    assert backend.read_state(request()).hsms[HSM].role_definitions == ()


def test_arm_assignment_lifecycle(backend: AzureBackend) -> None:
    backend.read_state(request())
    assert backend.apply_change(arm_assignment(Action.CREATE)) is Outcome.DONE
    assert backend.apply_change(arm_assignment(Action.CREATE)) is Outcome.ALREADY_DONE
    live = backend.read_state(request())
    (ra,) = [a for a in live.arm.role_assignments if a.principal_id == APP]
    assert (ra.role_definition_id, ra.principal_type, ra.scope) == (CONTRIBUTOR, "ServicePrincipal", HSM_RID)
    assert backend.apply_change(arm_assignment(Action.DELETE)) is Outcome.DONE
    assert backend.apply_change(arm_assignment(Action.DELETE)) is Outcome.ALREADY_DONE
    assert not [a for a in backend.read_state(request()).arm.role_assignments if a.principal_id == APP]


def test_arm_reads_manifest_principals_unless_full(backend: AzureBackend) -> None:
    assert not [a for a in backend.read_state(request()).arm.role_assignments if a.principal_id == OUTSIDER]
    live = backend.read_state(request(arm_full=True))
    (ra,) = [a for a in live.arm.role_assignments if a.principal_id == OUTSIDER]
    assert (ra.scope, ra.role_definition_id, ra.principal_type) == (HSM_RID, CONTRIBUTOR, "Group")


def test_caller_without_write_permission(emulator: Any, tmp_path: Path) -> None:
    path = endpoints_for(emulator, tmp_path / "reader.json", oid=READER)
    with make_azure_backend(endpoints=path, environ=with_sign_in(FAST_ENV)) as reader:
        reader.read_state(request(full=False))  # reading is allowed (Crypto Auditor)
        with pytest.raises(BackendError) as info:
            reader.apply_change(data_assignment(Action.CREATE, "/keys/k1", CRYPTO_USER, APP))
    text = str(info.value)
    assert info.value.status == 403
    assert "permission denied" in text and "roleAssignments/write/action" in text
    assert "HSM 'contoso'" in text and "/keys/k1" in text and APP in text
    assert "eyJ" not in text  # no token
    # the service's ids, for Azure support: the request id the emulator answered with, and the
    # client request id the SDK sent
    assert re.search(r"\[request id [0-9a-f-]{36}, client request id [0-9a-f-]{36}\]$", text), text


def test_full_discovery_needs_key_listing(emulator: Any, tmp_path: Path) -> None:
    # Only Administrator: no keys/read/action. Pruning HSMs fail clearly; others fall back.
    path = endpoints_for(emulator, tmp_path / "admin-only.json", oid=ADMIN)
    with make_azure_backend(endpoints=path, environ=with_sign_in(FAST_ENV)) as b:
        b.read_state(request())
        auditor = next(
            a for a in b.read_state(request()).hsms[HSM].role_assignments if a.name.endswith("a002")
        )
        delete = data_assignment(Action.DELETE, "/", auditor.role_definition_id, ADMIN, auditor.name)
        assert b.apply_change(delete) is Outcome.DONE
        with pytest.raises(BackendError, match="keys/read/action"):
            b.read_state(request(full=True))
        b.read_state(request(full=False, principals=(ADMIN, APP, GROUP, READER)))
        assert "principal discovery (4 principals; keys not readable)" in b.describe()


def test_faults_converge_through_retries(tmp_path: Path) -> None:
    started = time.monotonic()
    with emulator_for(tmp_path, faults="429=0.2,500=0.1,seed=3,throttle=0") as emu:
        env = {**FAST_ENV, "HSMSYNC_RETRY_TOTAL": "10"}
        with make_azure_backend(
            endpoints=endpoints_for(emu, tmp_path / "e.json"), environ=with_sign_in(env)
        ) as b:
            b.read_state(request())
            changes = [data_assignment(Action.CREATE, f"/keys/k{i}", CRYPTO_USER, APP) for i in (1, 2, 3)]
            changes.append(data_assignment(Action.CREATE, "/", CRYPTO_USER, GROUP))
            for change in changes:
                assert b.apply_change(change) in (Outcome.DONE, Outcome.ALREADY_DONE)
            assert b.apply_change(arm_assignment(Action.CREATE)) in (Outcome.DONE, Outcome.ALREADY_DONE)
            live = b.read_state(request())
            assert {(c.scope, CRYPTO_USER, c.principal_id) for c in changes} <= keyed(live)
            assert any(a.principal_id == APP for a in live.arm.role_assignments)
        statuses = [_status(entry) for entry in emu.request_log]
    assert 429 in statuses or 500 in statuses, "the fault injection never fired"
    assert time.monotonic() - started < 30


def _status(entry: Any) -> int:
    method, path, status = entry  # the emulator logs (method, path, status)
    return int(status)


def test_unreachable_service_is_reported(tmp_path: Path, emulator: Any) -> None:
    path = endpoints_for(emulator, tmp_path / "dead.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["hsms"] = {HSM: "https://127.0.0.1:9"}
    path.write_text(json.dumps(data), encoding="utf-8")
    with (
        make_azure_backend(endpoints=path, environ=with_sign_in({"HSMSYNC_RETRY_TOTAL": "0"})) as b,
        pytest.raises(BackendError, match=r"cannot reach the service at https://127.0.0.1:9"),
    ):
        b.read_state(request())
