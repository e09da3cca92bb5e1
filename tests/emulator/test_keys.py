"""The minimal keys API, through the real KeyClient."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError

from hsmsync_emulator import Emulator, FaultConfig

from .conftest import StartEmulator, key_client, saved


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
