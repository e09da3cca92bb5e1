"""AzureBackend's resource changes against the emulator: reads, idempotency (ALREADY_DONE) and
errors that say what was attempted and what the service said."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hsmsync.backends.azure import AzureBackend, make_azure_backend
from hsmsync.backends.base import HsmRef, Outcome, ReadRequest, VaultRef
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DiagnosticSetting,
    HsmSettingsPatch,
    NetworkAcls,
    NetworkAclsPatch,
    Permission,
    VaultState,
)
from hsmsync.core.target import ARM, Target
from hsmsync_emulator import parse_faults, start_emulator
from hsmsync_files.statefile import write_state_file
from tests.changes import flat_change
from tests.signin import with_sign_in

from .conftest import (
    APP,
    FAST_ENV,
    GROUP,
    HSM,
    HSM_RID,
    OUTSIDER,
    SUB,
    endpoints_for,
    initial_state,
    request,
)

VAULT = "kv"
VAULT_RID = f"/subscriptions/{SUB}/resourceGroups/rg-hsm/providers/Microsoft.KeyVault/vaults/kv1"
STORAGE = f"/subscriptions/{SUB}/resourceGroups/rg-hsm/providers/Microsoft.Storage/storageAccounts/logs"
ROLE = "3f2e1d0c-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[AzureBackend]:
    vault = VaultState(
        url="https://kv1.vault.azure.net",
        resource_id=VAULT_RID,
        tenant_id=TENANT,
        access_policies=(AccessPolicy(object_id=OUTSIDER, keys=("get",)),),
    )
    state = initial_state()
    path = tmp_path / "state.json"
    write_state_file(path, state.model_copy(update={"vaults": {VAULT: vault}}))
    with start_emulator(path, faults=parse_faults("throttle=0")) as emu:
        endpoints = endpoints_for(emu, tmp_path / "endpoints.json")
        with make_azure_backend(endpoints=endpoints, environ=with_sign_in(FAST_ENV)) as b:
            yield b


def _request(**kwargs: Any) -> ReadRequest:
    base = request()
    return ReadRequest(
        hsms=base.hsms,
        arm_scopes=base.arm_scopes,
        principal_ids=base.principal_ids,
        key_scopes=base.key_scopes,
        full_discovery=base.full_discovery,
        vaults=(VaultRef(VAULT, "https://kv1.vault.azure.net", VAULT_RID),),
        arm_role_scopes=(f"/subscriptions/{SUB}",),
        **kwargs,
    )


def _target(text: str) -> Target:
    if text == "arm":
        return ARM
    return Target.vault(text.removeprefix("vault:")) if text.startswith("vault:") else Target.hsm(text)


def _change(kind: Kind, action: Action, target: str, scope: str, name: str, payload: Any) -> Change:
    return flat_change(
        id=f"test:{kind}:{name}",
        action=action,
        kind=kind,
        plane=Plane.MANAGEMENT,
        target=_target(target),
        scope=scope,
        name=name,
        role="",
        role_id="",
        reason="test",
        principal_id=name if kind is Kind.ACCESS_POLICY else None,
        payload=payload,
    )


def setting(**fields: Any) -> Change:
    return _change(Kind.SETTING, Action.UPDATE, HSM, HSM_RID, "properties", HsmSettingsPatch(**fields))


def test_read_state_includes_settings_logging_vaults_and_custom_roles(backend: AzureBackend) -> None:
    live = backend.read_state(_request())
    hsm = live.hsms[HSM]
    assert hsm.settings.purge_protection is False and hsm.diagnostic_settings == ()
    assert live.vaults[VAULT].access_policies == (AccessPolicy(object_id=OUTSIDER, keys=("get",)),)
    assert (live.vaults[VAULT].tenant_id, live.vaults[VAULT].url) == (TENANT, "https://kv1.vault.azure.net")
    assert live.arm.role_definitions == ()


def test_settings_are_patched_once_and_refusals_are_clear(backend: AzureBackend) -> None:
    acls = NetworkAclsPatch(default_action="Deny", ip_rules=("10.0.0.1",))
    change = setting(purge_protection=True, public_network_access="Disabled", network_acls=acls)
    assert backend.apply_change(change) is Outcome.DONE
    assert backend.apply_change(change) is Outcome.ALREADY_DONE
    settings = backend.read_state(_request()).hsms[HSM].settings
    assert (settings.purge_protection, settings.public_network_access, settings.network_acls) == (
        True,
        "Disabled",
        NetworkAcls(default_action="Deny", ip_rules=("10.0.0.1",)),
    )
    with pytest.raises(BackendError) as refused:
        backend.apply_change(setting(purge_protection=False))
    text = str(refused.value)
    assert "update Managed HSM settings (enable_purge_protection)" in text
    assert HSM_RID in text and "HTTP 400 BadRequest" in text and "irreversible" in text


def test_a_partial_network_acls_patch_keeps_the_fields_it_leaves_out(backend: AzureBackend) -> None:
    full = NetworkAclsPatch(default_action="Deny", bypass="None", ip_rules=("10.0.0.1",))
    assert backend.apply_change(setting(network_acls=full)) is Outcome.DONE
    rules_only = setting(network_acls=NetworkAclsPatch(ip_rules=("10.0.0.1", "10.2.0.0/16")))
    assert backend.apply_change(rules_only) is Outcome.DONE
    bypass_only = setting(network_acls=NetworkAclsPatch(bypass="AzureServices"))
    assert backend.apply_change(bypass_only) is Outcome.DONE
    assert backend.read_state(_request()).hsms[HSM].settings.network_acls == NetworkAcls(
        default_action="Deny", bypass="AzureServices", ip_rules=("10.0.0.1", "10.2.0.0/16")
    )
    assert backend.apply_change(bypass_only) is Outcome.ALREADY_DONE


def test_a_manifest_url_that_is_not_the_resources_own_is_an_error(backend: AzureBackend) -> None:
    base = _request()
    typo = HsmRef(HSM, "https://contosso.managedhsm.azure.net", HSM_RID)  # the HSM is read by resource id
    vault_typo = VaultRef(VAULT, "https://kv2.vault.azure.net", VAULT_RID)
    with pytest.raises(StateError) as raised:
        backend.read_state(replace(base, hsms=(typo,), vaults=(vault_typo,)))
    text = str(raised.value)
    assert "HSM 'contoso': the manifest's url is https://contosso.managedhsm.azure.net" in text
    assert "backend finds https://contoso.managedhsm.azure.net" in text
    assert "vault 'kv': the manifest's url is https://kv2.vault.azure.net" in text
    same_but_for_case = HsmRef(HSM, "https://CONTOSO.managedhsm.azure.net/", HSM_RID)
    assert backend.read_state(replace(base, hsms=(same_but_for_case,))).hsms[HSM].role_assignments


def test_diagnostic_setting_written_once(backend: AzureBackend) -> None:
    wanted = DiagnosticSetting(name="audit", categories=("AuditEvent",), storage_account_id=STORAGE)
    create = _change(Kind.DIAGNOSTIC_SETTING, Action.CREATE, HSM, HSM_RID, "audit", wanted)
    assert backend.apply_change(create) is Outcome.DONE
    assert backend.apply_change(create) is Outcome.ALREADY_DONE
    assert backend.read_state(_request()).hsms[HSM].diagnostic_settings == (wanted,)
    bad = wanted.model_copy(update={"categories": ("Nope",)})
    with pytest.raises(
        BackendError, match="write diagnostic setting audit .* Category 'Nope' is not supported"
    ):
        backend.apply_change(_change(Kind.DIAGNOSTIC_SETTING, Action.UPDATE, HSM, HSM_RID, "audit", bad))


def _policy(action: Action, object_id: str, **lists: tuple[str, ...]) -> Change:
    return _change(
        Kind.ACCESS_POLICY,
        action,
        f"vault:{VAULT}",
        VAULT_RID,
        object_id,
        AccessPolicy(object_id=object_id, **lists),
    )


def test_access_policies_per_principal(backend: AzureBackend) -> None:
    assert backend.apply_change(_policy(Action.CREATE, APP, keys=("sign", "wrapkey"))) is Outcome.DONE
    assert backend.apply_change(_policy(Action.CREATE, APP, keys=("sign", "wrapkey"))) is Outcome.ALREADY_DONE
    update = _policy(Action.UPDATE, APP, keys=("sign",), secrets=("get",))
    assert backend.apply_change(update) is Outcome.DONE
    assert backend.apply_change(update) is Outcome.ALREADY_DONE
    policies = {p.object_id: p for p in backend.read_state(_request()).vaults[VAULT].access_policies}
    assert policies[APP] == AccessPolicy(object_id=APP, keys=("sign",), secrets=("get",))
    assert policies[OUTSIDER] == AccessPolicy(object_id=OUTSIDER, keys=("get",))
    delete = _policy(Action.DELETE, OUTSIDER, keys=("get",))
    assert backend.apply_change(delete) is Outcome.DONE
    assert backend.apply_change(delete) is Outcome.ALREADY_DONE
    assert [p.object_id for p in backend.read_state(_request()).vaults[VAULT].access_policies] == [APP]
    with pytest.raises(BackendError, match="add access-policy permissions of .* Invalid keys permission"):
        backend.apply_change(_policy(Action.CREATE, GROUP, keys=("fly",)))


def test_missing_vault_is_a_clear_state_error(backend: AzureBackend) -> None:
    gone = ReadRequest(
        hsms=(),
        arm_scopes=(),
        principal_ids=(),
        key_scopes={},
        vaults=(VaultRef("nope", "", VAULT_RID.replace("kv1", "nope")),),
    )
    with pytest.raises(StateError, match="does not exist"):
        backend.read_state(gone)


def test_custom_azure_role_lifecycle(backend: AzureBackend) -> None:
    role = ArmRoleDefinition(
        name=ROLE,
        role_name="Deployer",
        description="deploys",
        permissions=(Permission(actions=("Microsoft.Compute/*/read",)),),
        assignable_scopes=(f"/subscriptions/{SUB}",),
    )

    def change(action: Action, payload: ArmRoleDefinition) -> Change:
        return _change(Kind.ROLE_DEFINITION, action, "arm", f"/subscriptions/{SUB}", ROLE, payload)

    assert backend.apply_change(change(Action.CREATE, role)) is Outcome.DONE
    assert backend.apply_change(change(Action.CREATE, role)) is Outcome.ALREADY_DONE
    wider = role.model_copy(update={"permissions": (Permission(actions=("Microsoft.Compute/*",)),)})
    assert backend.apply_change(change(Action.UPDATE, wider)) is Outcome.DONE
    assert backend.read_state(_request()).arm.role_definitions == (wider,)
    assert backend.apply_change(change(Action.DELETE, wider)) is Outcome.DONE
    assert backend.apply_change(change(Action.DELETE, wider)) is Outcome.ALREADY_DONE
    assert backend.read_state(_request()).arm.role_definitions == ()
