"""The HSM's data-plane settings, through the real KeyVaultSettingsClient."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.administration import KeyVaultSetting, KeyVaultSettingsClient

from hsmsync.core.state import ARM_TRUST_SETTING
from hsmsync_emulator import Emulator
from tests.signin import EmulatorCredential

from .conftest import ADMIN, AUDITOR, KEY_USER, raw, saved


def settings_client(emu: Emulator, oid: str = ADMIN) -> KeyVaultSettingsClient:
    return KeyVaultSettingsClient(
        emu.hsm_urls["hsm1"],
        EmulatorCredential(emu, oid),
        verify_challenge_resource=False,
        connection_verify=str(emu.ca_cert_path),
    )


def test_a_new_hsm_does_not_trust_arm(emu: Emulator) -> None:
    client = settings_client(emu)
    listed = list(client.list_settings())
    assert [(s.name, s.value, s.setting_type) for s in listed] == [(ARM_TRUST_SETTING, "false", "boolean")]
    assert client.get_setting(ARM_TRUST_SETTING).getboolean() is False


def test_update_is_stored_and_read_back(emu: Emulator, state_file: Path) -> None:
    client = settings_client(emu)
    updated = client.update_setting(KeyVaultSetting(name=ARM_TRUST_SETTING, value=True))
    assert updated.value == "true"
    assert client.get_setting(ARM_TRUST_SETTING).getboolean() is True
    hsm = saved(state_file).hsms["hsm1"]
    assert [(s.name, s.value) for s in hsm.data_settings] == [(ARM_TRUST_SETTING, "true")]


@pytest.mark.parametrize("oid", [AUDITOR, KEY_USER])
def test_only_an_administrator_reads_or_changes_settings(emu: Emulator, oid: str) -> None:
    # settings/read|write/action are the Administrator's alone among the built-in roles
    client = settings_client(emu, oid)
    with pytest.raises(HttpResponseError) as read:
        client.get_setting(ARM_TRUST_SETTING)
    assert read.value.status_code == 403
    with pytest.raises(HttpResponseError) as write:
        client.update_setting(KeyVaultSetting(name=ARM_TRUST_SETTING, value=True))
    assert write.value.status_code == 403
    assert settings_client(emu).get_setting(ARM_TRUST_SETTING).value == "false"


def test_unknown_setting_and_bad_value_are_refused(emu: Emulator) -> None:
    with pytest.raises(ResourceNotFoundError):
        settings_client(emu).get_setting("NoSuchSetting")
    answer = raw(emu, "PATCH", f"/settings/{ARM_TRUST_SETTING}?api-version=7.5", json_body={"value": "yes"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadParameter"
    assert settings_client(emu).get_setting(ARM_TRUST_SETTING).value == "false"
