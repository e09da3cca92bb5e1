"""Azure role assignments at a Key Vault and below, the `vault:` shorthand, and conditions: what
the manifest accepts, what it refuses (file, line and field), and what it compiles to."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsmsync.core.errors import ManifestError
from hsmsync.core.plan import Plane
from hsmsync.manifest import parse_manifest

SUB = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
VAULT = f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
APP = "8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44"
OPS = "0f4e2b9c-7a1d-4c36-8e55-9b2d6a4c1e22"


def _manifest(*assignments: str, other_team: str = "") -> str:
    lines = "\n".join(f"      - {a}" for a in assignments)
    return (
        "version: 1\n"
        "principals:\n"
        f"  app: {{type: ServicePrincipal, id: {APP}}}\n"
        f"  ops: {{type: Group, id: {OPS}}}\n"
        "vaults:\n"
        "  kv:\n"
        "    url: https://kv.vault.azure.net\n"
        f"    resource_id: {VAULT}\n"
        "    rbac: true\n"
        "teams:\n"
        "  app:\n"
        "    members: [app]\n"
        "    management:\n"
        f"{lines}\n" + other_team
    )


def _error(text: str) -> str:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, Path("hsmsync.yaml"))
    return str(caught.value)


def _management(text: str) -> list[tuple[str, str, str | None, str | None]]:
    desired = parse_manifest(text, Path("hsmsync.yaml")).desired
    return [
        (a.role, a.scope, a.condition, a.condition_version)
        for a in desired.assignments
        if a.plane is Plane.MANAGEMENT
    ]


def test_shorthand_resolves_against_the_vaults_resource_id() -> None:
    text = _manifest(
        "{role: Key Vault Reader, scope: 'vault:kv'}",
        "{role: Key Vault Secrets User, scope: 'vault:kv/secrets/db-password'}",
        f"{{role: Key Vault Crypto User, scope: '{VAULT}/keys/signing'}}",
    )
    assert sorted(_management(text)) == [
        ("Key Vault Crypto User", f"{VAULT}/keys/signing", None, None),
        ("Key Vault Reader", VAULT, None, None),
        ("Key Vault Secrets User", f"{VAULT}/secrets/db-password", None, None),
    ]


def test_a_condition_defaults_to_version_2_0_and_an_unquoted_2_0_is_read_as_it() -> None:
    quoted = _manifest("{role: Key Vault Data Access Administrator, scope: 'vault:kv', condition: 'x == y'}")
    assert _management(quoted) == [("Key Vault Data Access Administrator", VAULT, "x == y", "2.0")]
    unquoted = _manifest(
        "{role: Key Vault Data Access Administrator, scope: 'vault:kv', condition: 'x', condition_version: 2.0}"
    )
    assert _management(unquoted)[0][3] == "2.0"


@pytest.mark.parametrize(
    ("assignment", "says"),
    [
        ("{role: Key Vault Reader, scope: 'vault:nope'}", "unknown vault 'nope'; declared: kv"),
        ("{role: Key Vault Reader, scope: 'vault:kv/blobs/x'}", "below a vault use /keys/<name>"),
        (f"{{role: Key Vault Reader, scope: '{VAULT}/keys/k/versions/v1'}}", "below a vault use"),
        (f"{{role: Key Vault Reader, scope: '{VAULT}/Secrets/s'}}", "below a vault use"),
        (f"{{role: Key Vault Reader, scope: '{VAULT}/secrets/bad_name'}}", "not a valid secret name"),
        (f"{{role: Key Vault Reader, scope: '{VAULT}/keys/../x'}}", "'..' segments are not allowed"),
        ("{role: Key Vault Reader, scope: 'vault:kv', condition_version: '2.0'}", "without a condition"),
        ("{role: Key Vault Reader, scope: 'vault:kv', condition: '  '}", "may not be blank"),
        ("{role: Key Vault Reader, scope: 'vault:kv', condition: x, condition_version: '1.0'}", "'2.0'"),
    ],
)
def test_bad_vault_scopes_and_conditions_are_errors_naming_file_and_line(assignment: str, says: str) -> None:
    message = _error(_manifest(assignment))
    assert "hsmsync.yaml:" in message and says in message, message


def test_two_teams_giving_one_assignment_different_conditions_is_an_error() -> None:
    other = (
        "  more:\n"
        "    members: [app]\n"
        "    management:\n"
        "      - {role: Key Vault Data Access Administrator, scope: 'vault:kv', condition: 'b'}\n"
    )
    text = _manifest(
        "{role: Key Vault Data Access Administrator, scope: 'vault:kv', condition: 'a'}", other_team=other
    )
    message = _error(text)
    assert "another condition" in message and "teams app" in message, message


def test_the_readmes_vault_rbac_example_compiles_to_what_it_says() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Key Vaults on Azure RBAC")
    begin = readme.index("```yaml\n", start) + len("```yaml\n")
    block = readme[begin : readme.index("\n```", begin)]
    block = block.replace("<sub>", "2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77").replace("<rg>", "rg")
    text = (
        "version: 1\nprincipals:\n"
        f"  app-vm: {{type: ServicePrincipal, id: {APP}}}\n"
        f"  security-team: {{type: Group, id: {OPS}}}\n" + block + "\n"
    )
    rows = {role: (scope, condition) for role, scope, condition, _ in _management(text)}
    kv = f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/payments-kv"
    assert rows["Key Vault Secrets User"] == (f"{kv}/secrets/db-password", None)
    assert rows["Key Vault Crypto User"] == (f"{kv}/keys/signing", None)
    scope, condition = rows["Key Vault Data Access Administrator"]
    assert scope == kv and condition is not None
    assert condition.count("4633458b-17de-408a-b874-0445c86b69e6") == 2 and "\n" not in condition
