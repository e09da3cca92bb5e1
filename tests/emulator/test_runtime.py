"""Starting, stopping, the endpoints file, the certificate, the CLI entry point, outside edits."""

from __future__ import annotations

import io
import ipaddress
import json
import socket
from pathlib import Path

import pytest
from cryptography import x509

from hsmsync.core.errors import HsmsyncError, StateError
from hsmsync.core.state import DataRoleAssignment
from hsmsync_emulator import Emulator, run_emulator_cli, start_emulator
from hsmsync_files.statefile import write_state_file

from .conftest import BACKUP_USER, OTHER, TENANT, StartEmulator, acl, raw, saved


def test_endpoints(emu: Emulator, tmp_path: Path) -> None:
    ep = emu.endpoints
    assert set(ep) == {"emulator", "tenant_id", "hsms", "arm", "graph", "authority", "ca_cert"}
    assert ep["emulator"] is True and ep["tenant_id"] == TENANT
    assert set(ep["hsms"]) == {"hsm1", "hsm2"}
    ports = {url.rsplit(":", 1)[1] for url in [*ep["hsms"].values(), ep["arm"], ep["authority"]]}
    assert len(ports) == 4  # every HSM on its own port, ARM on another, the token service on a fourth
    assert all(u.startswith("https://127.0.0.1:") for u in [*ep["hsms"].values(), ep["arm"], ep["authority"]])
    assert ep["graph"] == ep["arm"]
    assert Path(ep["ca_cert"]).is_absolute() and Path(ep["ca_cert"]).is_file()
    emu.write_endpoints(tmp_path / "endpoints.json")
    assert json.loads((tmp_path / "endpoints.json").read_text()) == ep
    # each HSM port serves its own HSM
    assert raw(emu, "GET", "/keys", hsm="hsm2", oid=OTHER).status_code == 403
    assert raw(emu, "GET", "/keys", hsm="hsm1").json()["value"][0]["kid"].startswith(ep["hsms"]["hsm1"])


def test_certificate(emu: Emulator) -> None:
    cert = x509.load_pem_x509_certificate(emu.ca_cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.IPv4Address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_fixed_port_numbers(start: StartEmulator) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emu = start(port=port)
    assert emu.arm_url.endswith(f":{port}")
    assert emu.hsm_urls == {"hsm1": f"https://127.0.0.1:{port + 1}", "hsm2": f"https://127.0.0.1:{port + 2}"}


def test_outside_edits_are_picked_up(emu: Emulator, state_file: Path) -> None:
    state = saved(state_file)
    added = DataRoleAssignment(
        name="e0c1d2a3-0000-4000-8000-0000000000ff",
        scope="/",
        role_definition_id=BACKUP_USER,
        principal_id=OTHER,
    )
    hsm1 = state.hsms["hsm1"].model_copy(
        update={"role_assignments": (*state.hsms["hsm1"].role_assignments, added)}
    )
    write_state_file(state_file, state.model_copy(update={"hsms": {**state.hsms, "hsm1": hsm1}}))
    assert added.name in {a.name for a in acl(emu).list_role_assignments("/")}


def test_stop_closes_the_ports(start: StartEmulator) -> None:
    emu = start()
    url = emu.hsm_urls["hsm1"]
    workdir = emu.workdir
    emu.stop()
    emu.stop()  # idempotent
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(1)
        s.connect(("127.0.0.1", port))
    assert workdir.exists()  # a workdir given by the caller is kept


def test_own_workdir_is_removed(state_file: Path) -> None:
    with start_emulator(state_file) as emu:
        cert = emu.ca_cert_path
        assert cert.is_file()
    assert not cert.exists()


def test_bad_state_file(tmp_path: Path) -> None:
    with pytest.raises(StateError):
        start_emulator(tmp_path / "missing.json")


def test_run_emulator_cli(state_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def interrupted(self: Emulator) -> None:
        seen["endpoints"] = self.endpoints
        raise KeyboardInterrupt

    monkeypatch.setattr(Emulator, "serve_forever", interrupted)
    out = io.StringIO()
    endpoints = tmp_path / "ep.json"
    assert run_emulator_cli(state_file, 0, endpoints, "latency=1ms,throttle=3", out) == 0
    text = out.getvalue()
    ep = seen["endpoints"]
    assert isinstance(ep, dict)
    assert json.loads(endpoints.read_text()) == ep
    assert ep["ca_cert"] in text and ep["arm"] in text and ep["hsms"]["hsm1"] in text
    assert "stopped" in text
    with pytest.raises(HsmsyncError, match="--faults: fault 'nonsense=1': unknown key"):
        run_emulator_cli(state_file, 0, None, "nonsense=1", io.StringIO())
