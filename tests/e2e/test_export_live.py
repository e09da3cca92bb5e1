"""`export --live` through the real SDK against the emulator: every Azure role assignment that
reaches the HSM and the vault is declared, principals are named and typed by the manifest and by
Microsoft Graph, and the export's plan covers exactly what exists (issue 9, item 13)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from hsmsync.core.plan import Plane
from hsmsync.core.scopes import arm_scope_key
from hsmsync.manifest import load_manifest
from hsmsync_emulator import Emulator, start_emulator
from tests.conftest import CONTOSO, run_cli
from tests.signin import sign_in_as

SUB = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
SUBSCRIPTION_ADMIN = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88"
AUDITORS = "3b7d9e1f-5c2a-4f88-b6d0-1e4a7c9b2f33"
APP_VM = "8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
MANIFEST = f"""\
version: 1
principals:
  my-app:  {{type: ServicePrincipal, id: {APP_VM}, name: The application}}
hsms:
  contoso:
    url: https://contosomhsm.managedhsm.azure.net
    resource_id: {SUB}/resourceGroups/ContosoAppRG/providers/Microsoft.KeyVault/managedHSMs/ContosoMHSM
vaults:
  contoso-kv:
    url: https://contosokeyvault.vault.azure.net
    resource_id: {SUB}/resourceGroups/ContosoAppRG/providers/Microsoft.KeyVault/vaults/ContosoKeyVault
"""


def _arm(name: int, scope: str, role: str, principal: str, ptype: str) -> dict[str, str]:
    return {
        "name": f"7a6b5c4d-3333-4e3f-8a9b-{name:012d}",
        "scope": scope,
        "role_definition_id": role,
        "principal_id": principal,
        "principal_type": ptype,
    }


def _state(tmp_path: Path) -> Path:
    """The tutorial's state, plus Azure RBAC that reaches the HSM from above its resource group
    and an assignment on the vault resource itself."""
    state = json.loads((CONTOSO / "live-as-tutorial.json").read_text())
    state["arm"]["role_assignments"] += [
        _arm(1, SUB, OWNER, SUBSCRIPTION_ADMIN, "User"),
        _arm(2, SUB, READER, AUDITORS, "Group"),
        _arm(
            3,
            f"{SUB}/resourceGroups/ContosoAppRG/providers/Microsoft.KeyVault/vaults/ContosoKeyVault",
            READER,
            APP_VM,
            "ServicePrincipal",
        ),
    ]
    path = tmp_path / "emulated.json"
    path.write_text(json.dumps(state))
    return path


def _endpoints(emulator: Emulator, directory: Path) -> None:
    """The emulator's endpoints, acting as the subscription admin (reads both planes)."""
    emulator.write_endpoints(directory / "endpoints.json")
    sign_in_as(emulator, SUBSCRIPTION_ADMIN, [AUDITORS], bin_dir=directory / "bin")
    (directory / "hsms.yaml").write_text(MANIFEST)


def _live(*args: str) -> tuple[str, ...]:
    return (*args, "--live", "--endpoints", "endpoints.json")


def test_export_live_declares_all_azure_rbac_and_names_principals(tmp_path: Path):
    state_path = _state(tmp_path)
    with start_emulator(state_path) as emulator:
        _endpoints(emulator, tmp_path)
        exported = run_cli(*_live("export", "-f", "hsms.yaml", "-o", "exported.yaml"), cwd=tmp_path)
        assert exported.exit_code == 0, exported.stderr
        doc = yaml.safe_load((tmp_path / "exported.yaml").read_text())

        # Named and typed by the manifest first, then by Graph: no principal-XXXX, no wrong types.
        principals = doc["principals"]
        assert principals["my-app"] == {"type": "ServicePrincipal", "id": APP_VM, "name": "The application"}
        assert principals["contoso-app-auditors"]["type"] == "Group"
        assert principals["contoso-subscription-admin"]["type"] == "User"
        assert not [k for k in principals if k.startswith("principal-")]
        live = json.loads(state_path.read_text())
        for obj in live["directory"]:
            entry = next((p for p in principals.values() if p["id"] == obj["id"]), None)
            if entry is not None:
                assert entry["type"] == obj["type"], obj

        # Every ARM assignment that reaches the HSM or the vault is declared, at its own scope.
        desired = load_manifest(tmp_path / "exported.yaml").desired
        declared = {
            (arm_scope_key(a.scope), a.role_id, a.principal.id)
            for a in desired.assignments
            if a.plane is Plane.MANAGEMENT
        }
        in_azure = {
            (arm_scope_key(a["scope"]), a["role_definition_id"], a["principal_id"])
            for a in live["arm"]["role_assignments"]
        }
        assert declared == in_azure
        data_declared = {
            (a.scope, a.role_id, a.principal.id) for a in desired.assignments if a.plane is Plane.DATA
        }
        data_live = {
            (a["scope"], a["role_definition_id"], a["principal_id"])
            for a in live["hsms"]["contoso"]["role_assignments"]
        }
        assert data_declared == data_live

        # ...and planning the export against the same Azure changes nothing.
        plan = run_cli(*_live("plan", "-f", "exported.yaml", "--detailed-exitcode"), cwd=tmp_path)
        assert plan.exit_code == 0, plan.stdout + plan.stderr
        assert "No changes." in plan.stdout


def test_export_live_notes_when_graph_cannot_name_principals(tmp_path: Path):
    """No directory to ask: the export stays complete and says why principals are not named."""
    state_path = _state(tmp_path)
    state = json.loads(state_path.read_text())
    state["directory"] = None
    state_path.write_text(json.dumps(state))
    with start_emulator(state_path) as emulator:
        _endpoints(emulator, tmp_path)
        exported = run_cli(*_live("export", "-f", "hsms.yaml"), cwd=tmp_path)
        assert exported.exit_code == 0, exported.stderr
        assert "# note: principals not named: " in exported.stdout
        doc = yaml.safe_load(exported.stdout)
        assert doc["principals"]["my-app"]["id"] == APP_VM
        # ARM knows the types of principals it holds assignments for
        assert doc["principals"][f"principal-{AUDITORS[:8]}"]["type"] == "Group"


def test_export_live_declares_the_hsms_data_plane_settings(tmp_path: Path):
    """ARM trust turned on out of band: the export declares it as the HSM lists it (through
    KeyVaultSettingsClient), and planning the export against the same HSM changes nothing."""
    state_path = _state(tmp_path)
    state = json.loads(state_path.read_text())
    trusted = {"name": "AllowKeyManagementOperationsThroughARM", "value": "true", "type": "boolean"}
    state["hsms"]["contoso"]["data_settings"] = [trusted]
    state_path.write_text(json.dumps(state))
    with start_emulator(state_path) as emulator:
        _endpoints(emulator, tmp_path)
        exported = run_cli(*_live("export", "-f", "hsms.yaml", "-o", "exported.yaml"), cwd=tmp_path)
        assert exported.exit_code == 0, exported.stderr
        doc = yaml.safe_load((tmp_path / "exported.yaml").read_text())
        assert doc["hsms"]["contoso"]["data_settings"] == {"AllowKeyManagementOperationsThroughARM": True}
        plan = run_cli(*_live("plan", "-f", "exported.yaml", "--detailed-exitcode"), cwd=tmp_path)
        assert plan.exit_code == 0, plan.stdout + plan.stderr
        assert "No changes." in plan.stdout


def test_export_live_without_settings_read_notes_it_and_exports_the_rest(tmp_path: Path):
    """The exporting identity reads the HSM as Crypto Auditor only (no settings/read): the export
    still succeeds, says the settings were not read, and declares none."""
    state_path = _state(tmp_path)
    state = json.loads(state_path.read_text())
    hsm = state["hsms"]["contoso"]
    hsm["role_assignments"] = [a for a in hsm["role_assignments"] if a["principal_id"] != SUBSCRIPTION_ADMIN]
    hsm["initial_admin_object_ids"] = []
    state_path.write_text(json.dumps(state))
    with start_emulator(state_path) as emulator:
        _endpoints(emulator, tmp_path)  # the subscription admin, in the auditors group
        exported = run_cli(*_live("export", "-f", "hsms.yaml"), cwd=tmp_path)
        assert exported.exit_code == 0, exported.stderr
        assert "# note: contoso: data-plane settings not read (" in exported.stdout
        doc = yaml.safe_load(exported.stdout)
        assert "data_settings" not in doc["hsms"]["contoso"]
        assert doc["hsms"]["contoso"]["prune"] is True
