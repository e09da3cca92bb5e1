"""Issue 14: a vault with four identities moved from access policies to Azure RBAC by `hsmsync
migrate`, through the real SDKs against the emulator, while a probe keeps calling the vault's data
plane as each identity: no call that succeeded before the migration fails during or after it."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import VaultPatchParameters, VaultPatchProperties

from hsmsync_emulator import Emulator, start_emulator
from hsmsync_files.statefile import read_state_file
from tests.conftest import run_cli
from tests.signin import EmulatorCredential, sign_in_as
from tests.vaults import EXAMPLE, MANIFEST, PIPELINE, SUB, probes, seed


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Emulator]:
    shutil.copy(EXAMPLE / "state.json", tmp_path / "emulated.json")
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST)
    with start_emulator(tmp_path / "emulated.json", workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)
        yield emulator


def _live(*args: str) -> tuple[str, ...]:
    return (*args, "--live", "--endpoints", "endpoints.json")


class Probe(threading.Thread):
    """Calls every identity's daily operations in a loop; records (phase, probe, ok)."""

    def __init__(self, emulator: Emulator, key_id: str) -> None:
        super().__init__(daemon=True)
        self.calls = probes(emulator, key_id)
        self.phase = "before"
        self.results: Counter[tuple[str, str, bool]] = Counter()
        self.failures: list[str] = []
        self.stop = threading.Event()

    def once(self) -> None:
        for name, call in self.calls.items():
            phase = self.phase
            try:
                call()
                self.results[(phase, name, True)] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is a finding
                self.results[(phase, name, False)] += 1
                self.failures.append(f"{phase}: {name}: {type(exc).__name__}: {str(exc)[:200]}")

    def run(self) -> None:
        while not self.stop.is_set():
            self.once()

    def table(self) -> str:
        names = list(self.calls)
        lines = [f"{'probe':32} {'before':>8} {'during':>8} {'after':>8}   (calls ok/failed)"]
        for name in names:
            cells = [
                f"{self.results[(p, name, True)]}/{self.results[(p, name, False)]}"
                for p in ("before", "during", "after")
            ]
            lines.append(f"{name:32} {cells[0]:>8} {cells[1]:>8} {cells[2]:>8}")
        return "\n".join(lines)


def test_migration_under_load_keeps_every_call_working(
    emulated: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id = seed(emulated)
    probe = Probe(emulated, key_id)
    probe.once()
    assert not probe.failures, probe.failures  # everyone works on access policies
    report = run_cli(*_live("migrate", "--report"), cwd=tmp_path)
    assert report.exit_code == 0, report.stderr
    assert "payments-kv" in report.stdout and "Key Vault Secrets User" in report.stdout
    written = run_cli(*_live("migrate", "--write"), cwd=tmp_path)
    assert written.exit_code == 0, written.stderr
    assert "# The payments vault" in (tmp_path / "hsmsync.yaml").read_text()  # comments kept

    probe.phase = "during"
    probe.start()
    time.sleep(0.3)
    applied = run_cli(*_live("migrate", "--apply", "--wait", "10", "--settle", "0"), cwd=tmp_path)
    probe.phase = "after"
    time.sleep(0.3)
    probe.stop.set()
    probe.join(timeout=30)
    probe.once()
    with capsys.disabled():  # the probe results belong in the test output, passing or not
        sys.stdout.write("\nvault migration probe results\n" + probe.table() + "\n" + applied.stdout)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert "stage 5/5" in applied.stdout
    assert not probe.failures, "\n".join(probe.failures[:10])
    assert all(probe.results[("during", name, True)] for name in probe.calls)  # it really ran meanwhile
    state = read_state_file(tmp_path / "emulated.json").vaults["payments-kv"]
    assert state.enable_rbac_authorization and not state.access_policies
    again = run_cli(*_live("plan", "--detailed-exitcode"), cwd=tmp_path)
    assert again.exit_code == 0, again.stdout + again.stderr


def test_a_lossy_migration_is_refused_until_accepted_and_then_the_loss_is_real(
    emulated: Emulator, tmp_path: Path
) -> None:
    """Without custom roles the signer's `keys/get, keys/sign` has no built-in role: refused until
    the manifest accepts the loss; after the move the signer really is refused (ForbiddenByRbac)
    while the secrets app, which lost nothing, keeps working."""
    key_id = seed(emulated)
    manifest = tmp_path / "hsmsync.yaml"
    no_custom = MANIFEST.replace(
        "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n",
        "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n"
        "    migration: {custom_roles: false}\n",
    )
    manifest.write_text(no_custom)
    refused = run_cli(*_live("migrate", "--write"), cwd=tmp_path)
    assert refused.exit_code == 1 and "release-signer: keys/get, keys/sign" in refused.stderr
    manifest.write_text(
        no_custom.replace(
            "    migration: {custom_roles: false}\n",
            "    migration:\n      custom_roles: false\n      accept_loss:\n"
            "        release-signer: [keys/get, keys/sign]\n"
            "        auditor: [keys/list, secrets/list, certificates/list]\n"
            "        security-team: [secrets/set, certificates/import]\n",
        )
    )
    assert run_cli(*_live("migrate", "--write"), cwd=tmp_path).exit_code == 0
    applied = run_cli(*_live("migrate", "--apply", "--wait", "10", "--settle", "0"), cwd=tmp_path)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    calls = probes(emulated, key_id)
    assert calls["orders-api: get secret"]() == "s3cret"
    with pytest.raises(HttpResponseError) as info:
        calls["release-signer: sign"]()
    assert info.value.status_code == 403 and info.value.response is not None
    assert json.loads(info.value.response.text())["error"]["innererror"]["code"] == "ForbiddenByRbac"


def test_the_probe_sees_a_naive_switch(emulated: Emulator, tmp_path: Path) -> None:
    """The control: switching first and assigning later (what the stages prevent) breaks every
    identity at once, and the probe says so."""
    probe = Probe(emulated, seed(emulated))
    client = KeyVaultManagementClient(
        EmulatorCredential(emulated, PIPELINE),
        SUB,
        base_url=emulated.arm_url,
        connection_verify=str(emulated.ca_cert_path),
    )
    params = VaultPatchParameters(properties=VaultPatchProperties(enable_rbac_authorization=True))
    client.vaults.update("AppRG", "payments-kv", params)
    probe.once()
    assert len(probe.failures) == len(probe.calls)
    assert all("Caller is not authorized" in f for f in probe.failures), probe.failures
