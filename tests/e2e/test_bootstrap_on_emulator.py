"""Adopting a fresh HSM: its creator holds Administrator only and cannot list keys, so a pruning
HSM's first plan is denied. `apply --bootstrap` applies the manifest's grant first; without such
a grant the error says which role to declare for whom at which scope (emulator, real authorization)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync_emulator import start_emulator
from tests.conftest import CONTOSO
from tests.e2e.test_guard_on_emulator import ADMIN_AND_KEYS, PIPELINE, Run, manifest
from tests.signin import sign_in_as


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Run]:
    shutil.copy(CONTOSO / "empty-state.json", tmp_path / "emulated.json")
    state = json.loads((tmp_path / "emulated.json").read_text())
    hsm = state["hsms"]["contoso"]
    # As Azure creates it: the creator is Administrator at '/', nothing else.
    hsm["role_assignments"] = [a for a in hsm["role_assignments"] if a["scope"] == "/"]
    (tmp_path / "emulated.json").write_text(json.dumps(state))
    emulator: Any
    with start_emulator(tmp_path / "emulated.json") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, PIPELINE)
        yield Run(tmp_path)


def test_the_first_plan_names_the_bootstrap_and_bootstrap_adopts_the_hsm(fresh: Run):
    (fresh.dir / "hsmsync.yaml").write_text(manifest(ADMIN_AND_KEYS))
    denied = fresh("plan")
    assert denied.exit_code == 1
    assert "permission denied" in denied.stderr and "keys/read/action" in denied.stderr
    assert (
        "The manifest grants pipeline Managed HSM Crypto Auditor at /keys on contoso, which gives the "
        "applying identity this right: run `hsmsync apply --bootstrap`" in denied.stderr
    )
    adopted = fresh("apply", "--bootstrap", "--auto-approve")
    assert adopted.exit_code == 0, adopted.stdout + adopted.stderr
    assert "Bootstrap: contoso denies the applying identity keys/read/action at /keys" in adopted.stdout
    first, rest = adopted.stdout.split("Apply complete", 1)
    assert "Plan: 1 to create, 0 to update, 0 to delete" in first
    assert "Managed HSM Crypto Auditor" in first
    assert "Apply complete" in rest  # then the rest of the manifest
    again = fresh("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout + again.stderr
    # Nothing left to bootstrap: --bootstrap is then a plain apply.
    assert fresh("apply", "--bootstrap", "--auto-approve").exit_code == 0


def test_without_a_grant_in_the_manifest_the_error_names_the_way_out(fresh: Run):
    (fresh.dir / "hsmsync.yaml").write_text(
        manifest("[{hsm: contoso, role: Managed HSM Administrator, scope: /}]")
    )
    for args in (("plan",), ("apply", "--bootstrap", "--auto-approve")):
        result = fresh(*args)
        assert result.exit_code == 1
        assert (
            f"The manifest grants the applying identity ({PIPELINE}) no role with keys/read/action at "
            "/keys on contoso: declare Managed HSM Crypto Auditor for it at /keys on contoso" in result.stderr
        )
    state = json.loads((fresh.dir / "emulated.json").read_text())
    assert len(state["hsms"]["contoso"]["role_assignments"]) == 1  # nothing was applied
