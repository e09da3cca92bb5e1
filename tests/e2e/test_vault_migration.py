"""Issue 14: a vault with four identities moved from access policies to Azure RBAC by `hsmsync
migrate`, through the real SDKs against the emulator, while a probe keeps calling the vault's data
plane as each identity: no call that succeeded before the migration fails during or after it.
A fifth, a compound identity (a user only through an application), has no Azure RBAC equivalent:
the move is refused until the manifest accepts that loss, and its probe's failure after the switch
is that accepted loss, reported apart."""

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
from azure.keyvault.secrets import SecretClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import VaultPatchParameters, VaultPatchProperties

from hsmsync_emulator import Emulator, start_emulator
from hsmsync_files.statefile import read_state_file
from tests.conftest import run_cli
from tests.signin import EmulatorCredential, sign_in_as
from tests.vaults import EXAMPLE, MANIFEST, PIPELINE, SUB, probes, seed
from tests.vaults import Probe as ProbeCall

ALICE = "a0000000-0000-4000-8000-000000000005"  # a user who reads the vault only through the portal app
PORTAL_APP = "a0000000-0000-4000-8000-0000000000a1"  # that application's (client) id
ACCEPT_ALICE = f"vaults.payments-kv.migration.accept_loss: {{alice: [via {PORTAL_APP}]}}"


def _start(tmp_path: Path, *, compound: bool) -> Iterator[Emulator]:
    shutil.copy(EXAMPLE / "state.json", tmp_path / "emulated.json")
    manifest = MANIFEST
    if compound:
        state = json.loads((tmp_path / "emulated.json").read_text())
        state["vaults"]["payments-kv"]["access_policies"].append(
            {"object_id": ALICE, "application_id": PORTAL_APP, "secrets": ["get"]}
        )
        (tmp_path / "emulated.json").write_text(json.dumps(state))
        manifest = manifest.replace(
            "principals:\n", f"principals:\n  alice: {{type: User, id: {ALICE}}}\n", 1
        ).replace(
            "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n",
            "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n"
            f"      alice: {{application: {PORTAL_APP}, secrets: [get]}}\n",
        )
    (tmp_path / "hsmsync.yaml").write_text(manifest)
    with start_emulator(tmp_path / "emulated.json", workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)
        yield emulator


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Emulator]:
    yield from _start(tmp_path, compound=False)


@pytest.fixture
def emulated_with_compound(tmp_path: Path) -> Iterator[Emulator]:
    """The example vault plus alice's compound entry: secrets get, only through PORTAL_APP."""
    yield from _start(tmp_path, compound=True)


def _alice_probe(emulator: Emulator) -> ProbeCall:
    client = SecretClient(
        emulator.vault_urls["payments-kv"],
        EmulatorCredential(emulator, ALICE, app_id=PORTAL_APP),
        verify_challenge_resource=False,
        connection_verify=str(emulator.ca_cert_path),
    )
    return lambda: client.get_secret("db-password").value


def _live(*args: str) -> tuple[str, ...]:
    return (*args, "--live", "--endpoints", "endpoints.json")


class Probe(threading.Thread):
    """Calls every identity's daily operations in a loop; records (phase, probe, ok)."""

    def __init__(self, emulator: Emulator, key_id: str, accepted: dict[str, ProbeCall] | None = None) -> None:
        super().__init__(daemon=True)
        self.calls = {**probes(emulator, key_id), **(accepted or {})}
        self.accepted = set(accepted or ())  # probes of a loss the manifest accepts: may fail once moved
        self.phase = "before"
        self.results: Counter[tuple[str, str, bool]] = Counter()
        self.failures: list[str] = []
        self.accepted_failures: list[str] = []
        self.stop = threading.Event()

    def once(self) -> None:
        for name, call in self.calls.items():
            phase = self.phase
            try:
                call()
                self.results[(phase, name, True)] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is a finding
                self.results[(phase, name, False)] += 1
                seen = (
                    self.accepted_failures if name in self.accepted and phase != "before" else self.failures
                )
                seen.append(f"{phase}: {name}: {type(exc).__name__}: {str(exc)[:200]}")

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
            note = "   (accepted loss: no Azure RBAC equivalent)" if name in self.accepted else ""
            lines.append(f"{name:32} {cells[0]:>8} {cells[1]:>8} {cells[2]:>8}{note}")
        return "\n".join(lines)


def test_migration_under_load_keeps_every_call_working(
    emulated_with_compound: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulated = emulated_with_compound
    key_id = seed(emulated)
    alice = "alice via portal app: get secret"
    probe = Probe(emulated, key_id, accepted={alice: _alice_probe(emulated)})
    probe.once()
    assert not probe.failures, probe.failures  # everyone works on access policies, alice included
    report = run_cli(*_live("migrate", "--report"), cwd=tmp_path)
    assert report.exit_code == 0, report.stderr
    assert "payments-kv" in report.stdout and "Key Vault Secrets User" in report.stdout
    assert f"alice via application {PORTAL_APP} ({ALICE})" in report.stdout, report.stdout
    assert "no Azure RBAC equivalent: lost: secrets/get  REFUSED" in report.stdout, report.stdout
    refused = run_cli(*_live("migrate", "--write"), cwd=tmp_path)
    assert refused.exit_code == 1 and ACCEPT_ALICE in refused.stderr, refused.stdout + refused.stderr
    manifest = tmp_path / "hsmsync.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            f"      alice: {{application: {PORTAL_APP}, secrets: [get]}}\n",
            f"      alice: {{application: {PORTAL_APP}, secrets: [get]}}\n"
            f"    migration:\n      accept_loss:\n        alice: [via {PORTAL_APP}]\n",
        )
    )
    written = run_cli(*_live("migrate", "--write"), cwd=tmp_path)
    assert written.exit_code == 0, written.stderr
    assert "no Azure RBAC equivalent: lost: secrets/get (accepted)" in written.stdout, written.stdout
    assert "# The payments vault" in manifest.read_text()  # comments kept

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
    assert "all 4 identities their access; 1 compound identity lost as accepted" in applied.stdout
    assert f"alice via application {PORTAL_APP}: no Azure RBAC equivalent: lost (accepted): secrets/get" in (
        applied.stdout
    )
    assert not probe.failures, "\n".join(probe.failures[:10])
    assert all(probe.results[("during", name, True)] for name in probe.calls if name != alice)  # it ran
    # alice's access went with the switch, as accepted: refused by Azure RBAC once moved
    assert probe.results[("after", alice, False)] and not probe.results[("after", alice, True)]
    assert all("Caller is not authorized" in f for f in probe.accepted_failures), probe.accepted_failures
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
