"""The Azure built-in role catalog shipped as package data, and its refresh from Microsoft's
published definitions (scripts/refresh_roles.py, `make refresh-roles`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hsmsync.core.catalog import management_role_map, management_roles, names_only_role_ids
from hsmsync.core.errors import ManifestError
from hsmsync.core.state import ArmRoleDefinition
from hsmsync.manifest import parse_manifest

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99"
SUB = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"


@pytest.mark.parametrize(
    ("role_name", "guid"),
    [
        ("Monitoring Contributor", "749f88d5-cbae-40b8-bcfc-e573ddc772fa"),
        ("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6"),
        ("Key Vault Data Access Administrator", "8b54135c-b56d-4d72-a534-26097cfdc8d8"),
        ("Key Vault Secrets Officer", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"),
        ("Role Based Access Control Administrator", "f58310d9-a9f6-439a-9e8d-f62e7b41a168"),
        ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),  # the catalog once had 42e0: no such role
        ("Storage Blob Data Reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"),
        ("AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d"),
    ],
)
def test_the_catalog_holds_the_built_in_roles_by_their_exact_guids(role_name: str, guid: str) -> None:
    role = management_role_map()[guid]
    assert role.role_name == role_name and role.is_builtin


def test_the_catalog_parses_with_unique_guids_and_names_and_the_permissions_as_published() -> None:
    roles = management_roles()
    assert len(roles) >= 490  # every role the published index lists
    assert len({r.name for r in roles}) == len(roles)
    assert len({r.role_name.lower() for r in roles}) == len(roles)
    admin = management_role_map()["8b54135c-b56d-4d72-a534-26097cfdc8d8"]
    assert "Microsoft.Authorization/roleAssignments/write" in admin.permissions[0].actions
    secrets_user = management_role_map()["4633458b-17de-408a-b874-0445c86b69e6"]
    assert secrets_user.permissions[0].data_actions == (
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    )


def _manifest(role: str) -> str:
    return (
        "version: 1\n"
        f"principals:\n  pipeline: {{type: ServicePrincipal, id: {PIPELINE}}}\n"
        "teams:\n  platform:\n    members: [pipeline]\n    management:\n"
        f"      - {{role: {role}, scope: {SUB}}}\n"
    )


def test_the_readmes_advice_declare_monitoring_contributor_for_the_pipeline_compiles() -> None:
    desired = parse_manifest(_manifest("Monitoring Contributor"), Path("hsmsync.yaml")).desired
    (assignment,) = desired.assignments
    assert assignment.role_id == "749f88d5-cbae-40b8-bcfc-e573ddc772fa"


def test_an_unknown_azure_role_still_gets_suggestions() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(_manifest("Monitoring Contributer"), Path("hsmsync.yaml"))
    assert "did you mean 'Monitoring Contributor'" in str(caught.value)


def test_refresh_reads_the_published_json_blocks_and_keeps_roles_the_source_lacks(tmp_path: Path) -> None:
    pages = tmp_path / "docs/articles/role-based-access-control/built-in-roles"
    pages.mkdir(parents=True)
    published = {
        "assignableScopes": ["/"],
        "description": "Read EKM proxies.",
        "id": "/providers/Microsoft.Authorization/roleDefinitions/5B6F8C3A-0D1E-4F2A-9B8C-7D6E5F4A3B21",
        "name": "5B6F8C3A-0D1E-4F2A-9B8C-7D6E5F4A3B21",
        "permissions": [
            {"actions": ["Microsoft.KeyVault/managedHSMs/read"], "notActions": [], "dataActions": []}
        ],
        "roleName": "Example Published Role",
        "roleType": "BuiltInRole",
    }
    page = (
        "# Security\n\n## Example Published Role\n\n```json\n" + json.dumps(published, indent=2) + "\n```\n"
    )
    (pages / "security.md").write_text(page, encoding="utf-8")
    out = tmp_path / "catalog.json"
    old = {"name": "00000000-0000-4000-8000-000000000001", "role_name": "Older Role", "permissions": []}
    out.write_text(json.dumps({"value": [old]}), encoding="utf-8")
    script = ROOT / "scripts/refresh_roles.py"
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "docs"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    catalog = json.loads(out.read_text(encoding="utf-8"))
    assert "MicrosoftDocs/azure-docs" in catalog["_source"]
    assert catalog["value"] == [
        {
            "name": "5b6f8c3a-0d1e-4f2a-9b8c-7d6e5f4a3b21",
            "role_name": "Example Published Role",
            "description": "Read EKM proxies.",
            "permissions": [{"actions": ["Microsoft.KeyVault/managedHSMs/read"]}],
        },
        old,
    ]


def test_a_role_known_by_name_and_guid_only_compiles_with_a_warning() -> None:
    # Web PubSub Service Reader is in the index but not on the category page read for the catalog
    desired = parse_manifest(_manifest("Web PubSub Service Reader"), Path("hsmsync.yaml")).desired
    assert desired.assignments[0].role_id == "bfb1c7d2-fb1a-466b-b2ba-aee63b92deaf"
    assert "bfb1c7d2-fb1a-466b-b2ba-aee63b92deaf" in names_only_role_ids()
    (warning,) = desired.warnings
    assert warning.startswith("teams.platform.management.0: Azure role 'Web PubSub Service Reader'")
    assert "by name and GUID only" in warning
    monitoring = parse_manifest(_manifest("Monitoring Contributor"), Path("hsmsync.yaml")).desired
    assert monitoring.warnings == ()  # its permissions are in the catalog


def test_refresh_records_each_pages_commit_when_the_pages_were_read_one_by_one(tmp_path: Path) -> None:
    pages = tmp_path / "docs/articles/role-based-access-control/built-in-roles"
    pages.mkdir(parents=True)
    published = {
        "name": "5b6f8c3a-0d1e-4f2a-9b8c-7d6e5f4a3b21",
        "permissions": [{"actions": ["Microsoft.Insights/read"]}],
        "roleName": "Example Published Role",
        "roleType": "BuiltInRole",
    }
    (pages / "monitor.md").write_text("```json\n" + json.dumps(published) + "\n```\n", encoding="utf-8")
    sha = "03e5750af10b23b5ba437d5b333ec5e9437844f9"
    (tmp_path / "docs/PROVENANCE.txt").write_text(
        f"monitor.md  commit={sha}  total_chars=57238  roles=1  check=OK\n", encoding="utf-8"
    )
    out = tmp_path / "catalog.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/refresh_roles.py"), str(tmp_path / "docs"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"monitor at commit {sha}" in json.loads(out.read_text(encoding="utf-8"))["_source"]


def test_most_built_in_roles_carry_their_published_permissions() -> None:
    roles = management_roles()
    with_permissions = [r for r in roles if r.permissions]
    assert len(with_permissions) >= 420, len(with_permissions)
    storage = management_role_map()["2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"]  # Storage Blob Data Reader
    assert (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
        in storage.permissions[0].data_actions
    )
    assert "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1" not in names_only_role_ids()


def test_a_blocks_condition_is_kept_key_vault_data_access_administrator_assigns_only_data_roles() -> None:
    admin = management_role_map()["8b54135c-b56d-4d72-a534-26097cfdc8d8"]
    (block,) = admin.permissions
    assert block.condition_version == "2.0"
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/write'}" in block.condition
    assert "4633458b-17de-408a-b874-0445c86b69e6" in block.condition  # Key Vault Secrets User


def test_arm_listing_without_block_conditions_keeps_the_published_condition() -> None:
    # Role-definition API versions before 2022-05-01-preview return no block condition.
    admin = management_role_map()["8b54135c-b56d-4d72-a534-26097cfdc8d8"]
    bare = admin.permissions[0].model_copy(update={"condition": "", "condition_version": ""})
    listed = ArmRoleDefinition(name=admin.name, role_name=admin.role_name, permissions=(bare,))
    (block,) = management_role_map(listed=[listed])[admin.name].permissions
    assert block.condition == admin.permissions[0].condition
    changed = bare.model_copy(update={"actions": (*bare.actions, "Microsoft.Support/*")})
    relisted = ArmRoleDefinition(name=admin.name, role_name=admin.role_name, permissions=(changed,))
    (block,) = management_role_map(listed=[relisted])[admin.name].permissions
    assert block.condition == ""  # a block ARM changed is ARM's: the shipped condition is not guessed onto it


@pytest.mark.parametrize(
    ("reference", "guid"),
    [
        ("Cognitive Services Data Reader", "b59867f0-fa02-499b-be73-45a86b5b3e1c"),
        ("Cognitive Services Data Reader (Preview)", "b59867f0-fa02-499b-be73-45a86b5b3e1c"),
        ("Defender Kubernetes API Access", "d5a2ae44-610b-4500-93be-660a0c5f5ca6"),
        ("Kubernetes Agentless Operator", "d5a2ae44-610b-4500-93be-660a0c5f5ca6"),
    ],
)
def test_a_role_named_differently_by_the_index_and_its_page_resolves_by_both(
    reference: str, guid: str
) -> None:
    desired = parse_manifest(_manifest(reference), Path("hsmsync.yaml")).desired
    assert desired.assignments[0].role_id == guid


def test_refresh_keeps_a_renamed_roles_old_name_as_another_name(tmp_path: Path) -> None:
    pages = tmp_path / "docs/articles/role-based-access-control/built-in-roles"
    pages.mkdir(parents=True)
    guid = "5b6f8c3a-0d1e-4f2a-9b8c-7d6e5f4a3b21"
    published = {"name": guid, "permissions": [], "roleName": "New Name", "roleType": "BuiltInRole"}
    (pages / "monitor.md").write_text("```json\n" + json.dumps(published) + "\n```\n", encoding="utf-8")
    out = tmp_path / "catalog.json"
    out.write_text(json.dumps({"value": [{"name": guid, "role_name": "Old Name", "permissions": []}]}))
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/refresh_roles.py"), str(tmp_path / "docs"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (role,) = json.loads(out.read_text(encoding="utf-8"))["value"]
    assert (role["role_name"], role["other_names"]) == ("New Name", ["Old Name"])
