"""A Key Vault on Azure RBAC as code: role assignments at the vault and below (one secret), one
with an ABAC condition, planned, applied and re-planned empty through the CLI's live path, the
real AuthorizationManagementClient and the local emulator; then the condition changed in place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hsmsync_emulator import FaultConfig, start_emulator
from tests.conftest import CONTOSO, run_cli
from tests.e2e.test_live_resources import DEVOPS, VAULT_RID, Live
from tests.signin import sign_in_as

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
DATA_ACCESS_ADMIN = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


def only_assigning(*roles: str) -> str:
    """Key Vault Data Access Administrator restricted to assigning (and removing) these roles."""
    guids = ", ".join(roles)
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{{{guids}}}))"
        " AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{{{guids}}}))"
    )


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    state = json.loads((CONTOSO / "empty-state.json").read_text(encoding="utf-8"))
    state["vaults"]["contoso-kv"]["enable_rbac_authorization"] = True
    (tmp_path / "emulated.json").write_text(json.dumps(state), encoding="utf-8")
    with start_emulator(tmp_path / "emulated.json", faults=FaultConfig(throttle=0)) as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator)
        yield Live(tmp_path, emulator)


def _vault_rbac(condition: str | None) -> dict[str, Any]:
    admin: dict[str, Any] = {"role": "Key Vault Data Access Administrator", "scope": "vault:contoso-kv"}
    if condition is not None:
        admin |= {"condition": condition, "condition_version": "2.0"}
    return {
        "vaults": {
            "contoso-kv": {
                "url": "https://contosokeyvault.vault.azure.net",
                "resource_id": VAULT_RID,
                "rbac": True,
            }
        },
        "teams": {
            "secrets-admins": {"members": ["devops"], "management": [admin]},
            "app": {
                "members": ["app-vm"],
                "management": [
                    {"role": "Key Vault Secrets User", "scope": "vault:contoso-kv/secrets/db-password"}
                ],
            },
        },
    }


def _assignments(live: Live) -> dict[str, dict[str, Any]]:
    return {a["role_definition_id"]: a for a in live.state()["arm"]["role_assignments"]}


def test_vault_rbac_with_a_condition_plans_applies_and_replans_empty(live: Live) -> None:
    condition = only_assigning(SECRETS_USER)
    live.manifest(**_vault_rbac(condition))
    plan = live.run("plan", "--detailed-exitcode", "--format", "json")
    assert plan.exit_code == 2, plan.stdout + plan.stderr
    changes = {c["role"]: c for c in json.loads(plan.stdout)["changes"]}
    admin, user = changes["Key Vault Data Access Administrator"], changes["Key Vault Secrets User"]
    # The vault's Azure RBAC lands on the vault's target, at the vault and at one secret.
    assert (admin["target"], admin["scope"]) == ("vault:contoso-kv", VAULT_RID)
    assert (user["target"], user["scope"]) == ("vault:contoso-kv", f"{VAULT_RID}/secrets/db-password")
    assert (admin["condition"], admin["condition_version"]) == (condition, "2.0")
    assert "condition" not in user
    live.apply(2)
    stored = _assignments(live)
    assert stored[DATA_ACCESS_ADMIN]["condition"] == condition
    assert stored[DATA_ACCESS_ADMIN]["condition_version"] == "2.0"
    assert stored[DATA_ACCESS_ADMIN]["principal_id"] == DEVOPS
    assert stored[SECRETS_USER]["scope"] == f"{VAULT_RID}/secrets/db-password"
    assert stored[SECRETS_USER].get("condition") is None


def test_a_changed_condition_updates_the_same_assignment_and_a_removed_one_is_flagged(live: Live) -> None:
    live.manifest(**_vault_rbac(only_assigning(SECRETS_USER)))
    live.apply(2)
    name = _assignments(live)[DATA_ACCESS_ADMIN]["name"]
    wider = only_assigning(SECRETS_USER, SECRETS_OFFICER)
    live.manifest(**_vault_rbac(wider))
    plan = live.run("plan", "--detailed-exitcode", "--format", "json")
    assert plan.exit_code == 2, plan.stdout + plan.stderr
    (change,) = json.loads(plan.stdout)["changes"]
    assert (change["action"], change["name"]) == ("update", name)
    assert [f["path"] for f in change["field_changes"]] == ["condition"]
    assert "condition changed: review what it now allows" in change["risks"]
    live.apply(1)
    after = _assignments(live)[DATA_ACCESS_ADMIN]
    assert (after["name"], after["condition"]) == (name, wider)  # updated in place, not replaced
    live.manifest(**_vault_rbac(None))
    text = live.plan()
    assert text.exit_code == 2 and "condition removed" in text.stdout, text.stdout
    live.apply(1)
    assert _assignments(live)[DATA_ACCESS_ADMIN].get("condition") is None


def test_target_vault_plans_the_vaults_azure_rbac_and_arm_does_not(live: Live) -> None:
    live.manifest(**_vault_rbac(None))
    vault = live.run("plan", "--detailed-exitcode", "--format", "json", "--target", "vault:contoso-kv")
    assert vault.exit_code == 2, vault.stdout + vault.stderr
    assert {c["role"] for c in json.loads(vault.stdout)["changes"]} == {
        "Key Vault Data Access Administrator",
        "Key Vault Secrets User",
    }
    arm = live.run("plan", "--detailed-exitcode", "--format", "json", "--target", "arm")
    assert arm.exit_code == 0, arm.stdout + arm.stderr


def test_a_saved_plan_with_a_condition_applies_as_planned_and_every_renderer_shows_it(live: Live) -> None:
    condition = only_assigning(SECRETS_USER)
    live.manifest(**_vault_rbac(condition))
    text = live.run("plan")
    assert f"condition (2.0): {condition}" in text.stdout, text.stdout
    markdown = live.run("plan", "--format", "markdown")
    assert "condition (2.0)" in markdown.stdout
    saved = live.run("plan", "--out", "plan.json")
    assert saved.exit_code == 0, saved.stderr
    shown = run_cli("show", "plan.json", cwd=live.dir)
    assert f"condition (2.0): {condition}" in shown.stdout, shown.stdout + shown.stderr
    applied = live.run("apply", "--auto-approve", "plan.json")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert _assignments(live)[DATA_ACCESS_ADMIN]["condition"] == condition
    assert live.plan().exit_code == 0
