"""The minimal keys API, through the real KeyClient."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from hsmsync.core.state import KeyProperties
from hsmsync_emulator import Emulator, FaultConfig
from hsmsync_files.statefile import write_state_file

from .conftest import ADMIN, AUDITOR, DEF_PREFIX, KEY_USER, StartEmulator, acl, base_state, key_client, saved

CRYPTO_OFFICER = "515eb02d-2335-4d2d-92f2-b1cbdf9c3778"  # Crypto User's rights and purge


def test_list_get_create(emu: Emulator, state_file: Path) -> None:
    keys = key_client(emu)
    assert [k.name for k in keys.list_properties_of_keys()] == ["k1", "k2"]
    k1 = keys.get_key("k1")
    assert k1.id.startswith(emu.hsm_urls["hsm1"] + "/keys/k1/")
    assert keys.get_key("k1", k1.properties.version).id == k1.id
    created = keys.create_rsa_key("new-key", hardware_protected=True, size=3072)
    assert created.key_type == "RSA-HSM" and created.name == "new-key"
    assert saved(state_file).hsms["hsm1"].keys == ("k1", "k2", "new-key")
    ec = keys.create_ec_key("ec-key", hardware_protected=True)
    assert ec.key_type == "EC-HSM"
    with pytest.raises(ResourceNotFoundError):
        keys.get_key("absent")


def test_key_list_paging(start: StartEmulator) -> None:
    emu = start(FaultConfig(throttle=0, page_size=1))
    assert [k.name for k in key_client(emu).list_properties_of_keys()] == ["k1", "k2"]
    assert [e[2] for e in emu.request_log if e[1] == "/keys"] == [401, 200, 200]


def test_soft_delete_recover_and_purge(emu: Emulator, state_file: Path) -> None:
    _make_crypto_officer(emu, ADMIN)  # deleted keys are the Crypto Officer's (read, recover, purge)
    keys = key_client(emu)
    created = keys.create_ec_key("gone", hardware_protected=True)
    deleted = keys.begin_delete_key("gone").result()
    assert deleted.name == "gone" and deleted.id == created.id
    assert deleted.recovery_id == emu.hsm_urls["hsm1"] + "/deletedkeys/gone"
    assert deleted.deleted_date is not None and deleted.scheduled_purge_date is not None
    assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 7  # recoverableDays
    assert "gone" not in (saved(state_file).hsms["hsm1"].keys or ())
    with pytest.raises(ResourceNotFoundError):
        keys.get_key("gone")
    assert [d.name for d in keys.list_deleted_keys()] == ["gone"]
    assert keys.get_deleted_key("gone").key_type == "EC-HSM"
    with pytest.raises(ResourceExistsError):  # the name is held until recovered or purged
        keys.create_rsa_key("gone", hardware_protected=True)

    recovered = keys.begin_recover_deleted_key("gone").result()
    assert recovered.id == created.id and recovered.key_type == "EC-HSM"
    assert keys.get_key("gone").id == created.id
    assert list(keys.list_deleted_keys()) == []

    keys.begin_delete_key("gone").wait()
    with pytest.raises(HttpResponseError) as refused:  # no purge right on this key
        key_client(emu, oid=KEY_USER).purge_deleted_key("gone")
    assert refused.value.status_code == 403
    keys.purge_deleted_key("gone")
    with pytest.raises(ResourceNotFoundError):
        keys.get_deleted_key("gone")
    assert keys.create_rsa_key("gone", hardware_protected=True).key_type == "RSA-HSM"


def test_deleting_needs_the_delete_action_and_an_existing_key(emu: Emulator) -> None:
    with pytest.raises(HttpResponseError) as caught:
        key_client(emu, oid=AUDITOR).begin_delete_key("k1")
    assert caught.value.status_code == 403
    with pytest.raises(ResourceNotFoundError):
        key_client(emu).begin_delete_key("absent")
    _make_crypto_officer(emu, ADMIN)
    with pytest.raises(ResourceNotFoundError):
        key_client(emu).purge_deleted_key("absent")


def _make_crypto_officer(emu: Emulator, oid: str) -> None:
    acl(emu).create_role_assignment("/", DEF_PREFIX + CRYPTO_OFFICER, oid)


def test_a_deleted_key_takes_its_attributes_along_and_back(tmp_path: Path, start: StartEmulator) -> None:
    expires = dt.datetime(2030, 1, 2, tzinfo=dt.UTC)
    state = base_state()
    hsm1 = state.hsms["hsm1"].model_copy(
        update={"key_properties": (KeyProperties(name="k2", kty="EC-HSM", expires_on=expires),)}
    )
    path = tmp_path / "with-props.json"
    write_state_file(path, state.model_copy(update={"hsms": {**state.hsms, "hsm1": hsm1}}))
    emu = start(state_path=path)
    _make_crypto_officer(emu, ADMIN)
    keys = key_client(emu)
    deleted = keys.begin_delete_key("k2").result()
    assert deleted.key_type == "EC-HSM" and deleted.properties.expires_on == expires
    assert saved(path).hsms["hsm1"].key_properties == ()  # the state stays valid: no stray attributes
    keys.begin_recover_deleted_key("k2").wait()
    assert saved(path).hsms["hsm1"].key_properties == hsm1.key_properties
    assert keys.get_key("k2").properties.expires_on == expires


def test_key_versions_are_not_served_and_say_so(emu: Emulator) -> None:
    with pytest.raises(HttpResponseError) as caught:
        list(key_client(emu).list_properties_of_key_versions("k1"))
    assert caught.value.status_code == 405 and "not supported by the emulator" in str(caught.value)
