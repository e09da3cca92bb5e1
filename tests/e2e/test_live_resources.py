"""HSM settings, audit logging, vault access policies and custom Azure roles: plan, apply and
re-plan (no changes) through the CLI's live path, the real SDK clients and the local emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hsmsync_emulator import Emulator, FaultConfig, start_emulator
from tests.conftest import CONTOSO, CliResult, run_cli
from tests.signin import sign_in_as

SUB = "2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
RG = f"/subscriptions/{SUB}/resourceGroups/ContosoAppRG"
HSM_RID = f"{RG}/providers/Microsoft.KeyVault/managedHSMs/ContosoMHSM"
VAULT_RID = f"{RG}/providers/Microsoft.KeyVault/vaults/ContosoKeyVault"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/contosologstorage"
WORKSPACE = f"{RG}/providers/Microsoft.OperationalInsights/workspaces/contoso-logs"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PIPELINE = "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99"
APP_VM = "8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44"
AUDITORS = "3b7d9e1f-5c2a-4f88-b6d0-1e4a7c9b2f33"
DEVOPS = "0f4e2b9c-7a1d-4c36-8e55-9b2d6a4c1e22"
OUTSIDER = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88"  # has an access policy the manifest does not declare
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
# The emulator runs without its RBAC throttle here, so client pacing is lifted too.
FAST = {"HSMSYNC_HSM_RATE": "1000", "HSMSYNC_ARM_RATE": "1000", "HSMSYNC_RETRY_BACKOFF": "0.01"}


class Live:
    """An emulator on a copy of Contoso's empty state, and the CLI's live path against it."""

    def __init__(self, directory: Path, emulator: Emulator) -> None:
        self.dir = directory
        self.emulator = emulator

    def manifest(self, **sections: Any) -> None:
        data: dict[str, Any] = {
            "version": 1,
            "principals": {
                "pipeline": {"type": "ServicePrincipal", "id": PIPELINE},
                "app-vm": {"type": "ServicePrincipal", "id": APP_VM},
                "auditors": {"type": "Group", "id": AUDITORS},
                "devops": {"type": "Group", "id": DEVOPS},
            },
            "hsms": {"contoso": {"url": "https://contosomhsm.managedhsm.azure.net", "resource_id": HSM_RID}},
            "teams": {
                "platform": {
                    "members": ["pipeline"],
                    "data": [
                        {"hsm": "contoso", "role": "Managed HSM Administrator", "scope": "/"},
                        {"hsm": "contoso", "role": "Crypto Auditor", "scope": "/keys"},
                    ],
                }
            },
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        (self.dir / "hsmsync.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    def run(self, *args: str) -> CliResult:
        return run_cli(*args, "--live", "--endpoints", "endpoints.json", cwd=self.dir, environ=FAST)

    def plan(self) -> CliResult:
        return self.run("plan", "--detailed-exitcode")

    def apply(self, applied: int) -> CliResult:
        result = self.run("apply", "--auto-approve")
        assert result.exit_code == 0, result.stdout + result.stderr
        assert f"Apply complete: {applied} applied" in result.stdout, result.stdout
        again = self.plan()
        assert again.exit_code == 0, again.stdout + again.stderr  # re-plan: no changes
        return result

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / "emulated.json").read_text(encoding="utf-8"))
        return data


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    state = json.loads((CONTOSO / "empty-state.json").read_text(encoding="utf-8"))
    state["vaults"]["contoso-kv"]["access_policies"] = [
        {"object_id": OUTSIDER, "keys": ["get"], "secrets": [], "certificates": [], "storage": []}
    ]
    (tmp_path / "emulated.json").write_text(json.dumps(state), encoding="utf-8")
    with start_emulator(tmp_path / "emulated.json", faults=FaultConfig(throttle=0)) as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator)
        yield Live(tmp_path, emulator)


# ----------------------------------------------------------------------------------- HSM settings


def test_hsm_settings_apply_and_refused_changes(live: Live) -> None:
    settings = {
        "purge_protection": True,
        "soft_delete_retention_days": 90,
        "public_network_access": "Disabled",
        "network_acls": {"default_action": "Deny", "bypass": "None", "ip_rules": ["10.1.0.0/16"]},
    }
    live.manifest(hsms={"contoso": {**_hsm(), "settings": settings}})
    plan = live.plan()
    assert plan.exit_code == 2, plan.stdout + plan.stderr
    assert "purge_protection" in plan.stdout
    live.apply(1)
    hsm = live.state()["hsms"]["contoso"]["settings"]
    assert hsm == {
        "purge_protection": True,
        "soft_delete_retention_days": 90,
        "public_network_access": "Disabled",
        "network_acls": {"default_action": "Deny", "bypass": "None", "ip_rules": ["10.1.0.0/16"]},
    }
    # What the service refuses is refused at plan time, with the reason; nothing is applied.
    live.manifest(hsms={"contoso": {**_hsm(), "settings": {**settings, "purge_protection": False}}})
    refused = live.plan()
    assert refused.exit_code == 1
    assert "purge protection cannot be turned off once it is on" in refused.stdout + refused.stderr
    assert live.run("apply", "--auto-approve").exit_code == 1
    live.manifest(hsms={"contoso": {**_hsm(), "settings": {**settings, "soft_delete_retention_days": 30}}})
    retention = live.plan()
    assert retention.exit_code == 1
    assert "soft-delete retention is fixed when the HSM is created" in retention.stdout + retention.stderr
    assert live.state()["hsms"]["contoso"]["settings"] == hsm


def _hsm() -> dict[str, Any]:
    return {"url": "https://contosomhsm.managedhsm.azure.net", "resource_id": HSM_RID}


# ---------------------------------------------------------------------------------- audit logging


def test_audit_logging_created_then_updated(live: Live) -> None:
    logging = {"name": "MHSM-Diagnostics", "categories": ["AuditEvent"], "storage_account": STORAGE}
    live.manifest(hsms={"contoso": {**_hsm(), "logging": logging}})
    assert live.plan().exit_code == 2
    live.apply(1)
    [setting] = live.state()["hsms"]["contoso"]["diagnostic_settings"]
    assert (setting["name"], setting["categories"], setting["storage_account_id"]) == (
        "MHSM-Diagnostics",
        ["AuditEvent"],
        STORAGE,
    )
    live.manifest(hsms={"contoso": {**_hsm(), "logging": {**logging, "workspace": WORKSPACE}}})
    plan = live.plan()
    assert plan.exit_code == 2 and "1 to update" in plan.stdout, plan.stdout
    live.apply(1)
    [setting] = live.state()["hsms"]["contoso"]["diagnostic_settings"]
    assert (setting["storage_account_id"], setting["workspace_id"]) == (STORAGE, WORKSPACE)


# -------------------------------------------------------------------------- vault access policies


def _vault(prune: bool, policies: dict[str, Any]) -> dict[str, Any]:
    return {
        "contoso-kv": {
            "url": "https://contosokeyvault.vault.azure.net",
            "resource_id": VAULT_RID,
            "prune": prune,
            "access_policies": policies,
        }
    }


def _policies(live: Live) -> dict[str, dict[str, list[str]]]:
    return {
        p["object_id"]: {k: p[k] for k in ("keys", "secrets", "certificates", "storage") if p[k]}
        for p in live.state()["vaults"]["contoso-kv"]["access_policies"]
    }


def test_vault_access_policies_create_update_prune(live: Live) -> None:
    live.manifest(
        vaults=_vault(
            False, {"app-vm": {"keys": ["sign"], "secrets": ["get"]}, "auditors": {"secrets": ["list"]}}
        )
    )
    assert live.plan().exit_code == 2
    live.apply(2)
    assert _policies(live) == {
        OUTSIDER: {"keys": ["get"]},  # prune: false leaves other principals alone
        APP_VM: {"keys": ["sign"], "secrets": ["get"]},
        AUDITORS: {"secrets": ["list"]},
    }
    # One permission added, one removed: add then remove for that principal only, never replace.
    live.emulator.clear_log()
    live.manifest(
        vaults=_vault(False, {"app-vm": {"keys": ["sign", "verify"]}, "auditors": {"secrets": ["list"]}})
    )
    plan = live.plan()
    assert plan.exit_code == 2 and "1 to update" in plan.stdout, plan.stdout
    live.apply(1)
    writes = [path.rsplit("/", 1)[-1] for method, path, _ in live.emulator.request_log if method == "PUT"]
    assert writes == ["add", "remove"]
    assert _policies(live)[APP_VM] == {"keys": ["sign", "verify"]}
    assert _policies(live)[OUTSIDER] == {"keys": ["get"]}
    # prune: true removes what the manifest does not declare, the outsider included.
    live.manifest(vaults=_vault(True, {"app-vm": {"keys": ["sign", "verify"]}}))
    plan = live.plan()
    assert plan.exit_code == 2 and "2 to delete" in plan.stdout, plan.stdout
    live.apply(2)
    assert _policies(live) == {APP_VM: {"keys": ["sign", "verify"]}}


# ----------------------------------------------------------------------------- custom Azure roles


def _role(actions: list[str]) -> dict[str, Any]:
    return {
        "deployer": {
            "name": "Contoso Deployer",
            "description": "deploys the application",
            "actions": actions,
            "assignable_scopes": [f"/subscriptions/{SUB}"],
        }
    }


def test_custom_azure_role_created_assigned_updated_and_pruned(live: Live) -> None:
    devops = {"members": ["devops"], "management": [{"role": "deployer", "scope": RG}]}
    live.manifest(arm_roles=_role(["Microsoft.Compute/virtualMachines/*"]), teams={"devops": devops})
    plan = live.plan()
    assert plan.exit_code == 2 and "2 to create" in plan.stdout, plan.stdout
    live.apply(2)
    arm = live.state()["arm"]
    [role] = arm["role_definitions"]
    assert (role["role_name"], [b["actions"] for b in role["permissions"]]) == (
        "Contoso Deployer",
        [["Microsoft.Compute/virtualMachines/*"]],
    )
    [assignment] = arm["role_assignments"]
    assert (assignment["role_definition_id"], assignment["principal_id"]) == (role["name"], DEVOPS)
    assert assignment["principal_type"] == "Group"
    # Changing the role's actions updates it in place; the assignment stays.
    live.manifest(
        arm_roles=_role(["Microsoft.Compute/virtualMachines/*", "Microsoft.Resources/deployments/*"]),
        teams={"devops": devops},
    )
    plan = live.plan()
    assert plan.exit_code == 2 and "1 to update" in plan.stdout, plan.stdout
    live.apply(1)
    assert (
        live.state()["arm"]["role_definitions"][0]["permissions"][0]["actions"][1]
        == "Microsoft.Resources/deployments/*"
    )
    # Undeclared with management prune: the assignment goes first, then the role.
    reader = {"members": ["devops"], "management": [{"role": READER, "scope": RG}]}
    live.manifest(teams={"devops": reader}, management={"prune": True, "prune_roles": True})
    plan = live.plan()
    assert plan.exit_code == 2 and "2 to delete" in plan.stdout, plan.stdout
    live.apply(3)
    arm = live.state()["arm"]
    assert arm["role_definitions"] == []
    assert [a["role_definition_id"] for a in arm["role_assignments"]] == [READER]


def test_saved_plan_with_vaults_and_custom_roles_applies(live: Live) -> None:
    live.manifest(
        vaults=_vault(False, {"app-vm": {"keys": ["sign"]}}),
        arm_roles=_role(["Microsoft.Compute/virtualMachines/read"]),
    )
    saved = live.run("plan", "--out", "plan.json")
    assert saved.exit_code == 0, saved.stderr
    discovery = json.loads((live.dir / "plan.json").read_text(encoding="utf-8"))["discovery"]
    assert [v["name"] for v in discovery["vaults"]] == ["contoso-kv"]
    assert discovery["arm_role_scopes"] == [f"/subscriptions/{SUB}"]
    applied = live.run("apply", "plan.json", "--auto-approve")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert "Apply complete: 2 applied" in applied.stdout
    assert live.plan().exit_code == 0
