"""Two applies at once (issue 10, item 9): each run paces itself, so together they exceed the
HSM's rate. The result converges, and a run that meets the other says so clearly."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hsmsync_emulator import Emulator, parse_faults, start_emulator
from tests.conftest import CONTOSO, CliResult, run_cli
from tests.signin import sign_in_as

MEMBERS = 24  # Crypto User at '/' each: within the HSM-scope limit of 50
RESOURCE_ID = (
    "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG"
    "/providers/Microsoft.KeyVault/managedHSMs/ContosoMHSM"
)
# No retries: the first 429 (the other run spent the HSM's budget) ends a call.
ENV = {"HSMSYNC_RETRY_TOTAL": "0", "HSMSYNC_RETRY_BACKOFF": "0.01"}
ANOTHER_WRITER = "another writer is changing HSM 'contoso' at the same time"


def _manifest() -> str:
    ids = [uuid.UUID(int=0x0A1B2C3D_0000_4000_8000_000000000100 + i) for i in range(MEMBERS)]
    principals = "\n".join(f"  p{i}: {{type: ServicePrincipal, id: {oid}}}" for i, oid in enumerate(ids))
    members = ", ".join(f"p{i}" for i in range(MEMBERS))
    return (
        f"version: 1\nprincipals:\n{principals}\n"
        f"hsms:\n  contoso:\n    url: https://contosomhsm.managedhsm.azure.net\n"
        f"    resource_id: {RESOURCE_ID}\n"
        f"teams:\n  app:\n    members: [{members}]\n"
        "    data: [{hsm: contoso, role: Crypto User, scope: /}]\n"
    )


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[tuple[Path, Emulator]]:
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "emulated.json")
    (tmp_path / "hsmsync.yaml").write_text(_manifest())
    # The service's own limit: 5 RBAC operations per second per HSM.
    with start_emulator(
        tmp_path / "emulated.json", workdir=tmp_path / "emu", faults=parse_faults("throttle=5")
    ) as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator)
        yield tmp_path, emulator


def _apply(directory: Path, environ: dict[str, str]) -> CliResult:
    live = ("--live", "--endpoints", "endpoints.json", "-q")
    return run_cli("apply", *live, "--auto-approve", cwd=directory, environ=environ)


def test_two_applies_at_once_converge_and_the_loser_names_the_other_writer(
    emulated: tuple[Path, Emulator],
) -> None:
    directory, _ = emulated
    results: list[CliResult] = []
    lock = threading.Lock()

    def run() -> None:
        result = _apply(directory, ENV)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 2

    failed = [r for r in results if r.exit_code != 0]
    assert failed, "two unpaced-together runs should have met each other's throttling"
    for result in failed:  # in discovery (stderr) or in the apply report (stdout)
        said = result.stdout + result.stderr
        assert result.exit_code == 1, said
        assert "HTTP 429" in said
        assert ANOTHER_WRITER in said, said
        assert "re-run after it finishes" in said
        if "Apply stopped" in result.stdout:
            assert "warning: another writer is changing 'contoso' at the same time" in result.stderr

    # Re-running after the other finished converges.
    patient = {"HSMSYNC_RETRY_BACKOFF": "0.01"}
    again = _apply(directory, patient)
    assert again.exit_code == 0, again.stdout + again.stderr
    plan = run_cli(
        "plan",
        "--live",
        "--endpoints",
        "endpoints.json",
        "--detailed-exitcode",
        cwd=directory,
        environ=patient,
    )
    assert plan.exit_code == 0, plan.stdout + plan.stderr
