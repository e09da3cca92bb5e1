"""The live backend prefers the built-in Azure roles as ARM lists them to hsmsync's shipped
catalog: a built-in role the catalog lacks is named as ARM names it, and a built-in role whose
definition changed is reasoned about as ARM defines it (real SDK clients against the emulator)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync_emulator import FaultConfig, start_emulator
from tests.conftest import CONTOSO
from tests.e2e.test_live_resources import DEVOPS, VAULT_RID, Live
from tests.signin import sign_in_as

NEW_ROLE = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"  # a built-in role newer than the catalog
KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2"


def _assignment(name: str, role: str) -> dict[str, Any]:
    return {
        "name": name,
        "scope": VAULT_RID,
        "role_definition_id": role,
        "principal_id": DEVOPS,
        "principal_type": "Group",
    }


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    state = json.loads((CONTOSO / "empty-state.json").read_text(encoding="utf-8"))
    state["arm"]["builtin_role_definitions"] = [
        {
            "name": NEW_ROLE,
            "role_name": "Key Vault Secrets Rotator",
            "permissions": [{"data_actions": ["Microsoft.KeyVault/vaults/secrets/setSecret/action"]}],
        },
        {  # as if the service had widened Key Vault Reader: ARM's definition is what counts
            "name": KEY_VAULT_READER,
            "role_name": "Key Vault Reader",
            "permissions": [{"actions": ["Microsoft.KeyVault/vaults/*"]}],
        },
    ]
    state["arm"]["role_assignments"] = [
        _assignment("00000000-0000-4000-8000-0000000000c1", NEW_ROLE),
        _assignment("00000000-0000-4000-8000-0000000000c2", KEY_VAULT_READER),
    ]
    (tmp_path / "emulated.json").write_text(json.dumps(state), encoding="utf-8")
    with start_emulator(tmp_path / "emulated.json", faults=FaultConfig(throttle=0)) as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator)
        yield Live(tmp_path, emulator)


def _manifest(live: Live) -> None:
    vault = {"url": "https://contosokeyvault.vault.azure.net", "resource_id": VAULT_RID}
    live.manifest(
        vaults={"contoso-kv": vault},
        teams={
            "ops": {"members": ["devops"], "management": [{"role": "Reader", "scope": "vault:contoso-kv"}]}
        },
    )


def test_a_built_in_role_the_catalog_lacks_is_named_as_arm_lists_it(live: Live) -> None:
    _manifest(live)
    plan = live.run("plan", "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    unmanaged = {u["role_id"]: u["role"] for u in json.loads(plan.stdout)["unmanaged"]}
    assert unmanaged[NEW_ROLE] == "Key Vault Secrets Rotator"


def test_a_built_in_roles_permissions_come_from_arm_when_live(live: Live) -> None:
    _manifest(live)
    plan = live.run("plan", "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    findings = [f for f in json.loads(plan.stdout)["lint"]["findings"] if f["rule"] == "HSM005"]
    # The catalog's Key Vault Reader cannot write the vault; ARM's (widened) definition can.
    assert [f["message"] for f in findings if "Key Vault Reader" in f["message"]], findings
