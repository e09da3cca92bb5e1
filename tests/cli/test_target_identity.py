"""Issue 9 item 9 (first half): what the manifest says about a target (url, resource_id) must match
what the backend finds under that name; a typo is an error, not a plan against something else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

HSM_URL = "url: https://contosomhsm.managedhsm.azure.net"
HSM_RID = "managedHSMs/ContosoMHSM"
VAULT_URL = "url: https://contosokeyvault.vault.azure.net"
VAULT_RID = "vaults/ContosoKeyVault"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (HSM_URL, HSM_URL.replace("contosomhsm", "contosohsm"), "HSM 'contoso': the manifest's url is"),
        (
            HSM_RID,
            HSM_RID.replace("ContosoMHSM", "OtherMHSM"),
            "HSM 'contoso': the manifest's resource_id is",
        ),
        (
            VAULT_URL,
            VAULT_URL.replace("contosokeyvault", "contosokv"),
            "vault 'contoso-kv': the manifest's url",
        ),
        (
            VAULT_RID,
            VAULT_RID.replace("ContosoKeyVault", "OtherVault"),
            "vault 'contoso-kv': the manifest's resource_id",
        ),
    ],
)
def test_a_mismatched_identifier_is_an_error_with_both_values(
    contoso: Path, old: str, new: str, message: str
):
    manifest = contoso / "hsmsync.yaml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new))
    for argv in (("plan",), ("drift",), ("apply", "--auto-approve")):
        result = run_cli(*argv, "--state", "state.json", cwd=contoso)
        assert result.exit_code == 1, (argv, result.stdout)
        assert message in result.stderr and "but the backend finds" in result.stderr


def test_identifiers_compare_without_case_or_trailing_slash(contoso: Path):
    manifest = contoso / "hsmsync.yaml"
    text = manifest.read_text().replace(HSM_URL, HSM_URL.replace("contosomhsm", "ContosoMHSM") + "/")
    manifest.write_text(text.replace(HSM_RID, HSM_RID.lower()))
    assert run_cli("plan", "--state", "state.json", cwd=contoso).exit_code == 0
