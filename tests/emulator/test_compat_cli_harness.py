"""The harness of `make test-compat-cli` (tests/compat/azure_cli.py), without the Azure CLI: its
state signs the pipeline in and lets it administer the HSM, a failed check is counted and the run goes
on, and a missing `az` is a clear error."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from pathlib import Path

from azure.identity import ClientSecretCredential
from azure.keyvault.administration import KeyVaultAccessControlClient

from hsmsync_emulator import start_emulator
from tests.compat.azure_cli import PIPELINE, PIPELINE_APP, TENANT, World, build_state, main, run_checks
from tests.compat.azure_cli_checks import CHECKS


def test_the_state_signs_the_pipeline_in_as_the_hsms_administrator(tmp_path: Path) -> None:
    keys = build_state(tmp_path / "state.json")
    assert set(keys) == {"pipeline", "outsider"} and keys["pipeline"] != keys["outsider"]
    with start_emulator(tmp_path / "state.json", workdir=tmp_path / "emu") as emu:
        credential = ClientSecretCredential(
            TENANT,
            PIPELINE_APP,
            keys["pipeline"],
            authority=emu.authority_url,
            disable_instance_discovery=True,
            connection_verify=str(emu.ca_cert_path),
        )
        client = KeyVaultAccessControlClient(
            emu.hsm_urls["hsm1"],
            credential,
            verify_challenge_resource=False,
            connection_verify=str(emu.ca_cert_path),
        )
        with client, credential:
            mine = [a for a in client.list_role_assignments("/") if a.properties.principal_id == PIPELINE]
        assert [a.properties.role_definition_id.rsplit("/", 1)[-1] for a in mine] == [
            "a290e904-7015-4bba-90c8-60543313cdb4"
        ]


def test_a_failed_check_is_counted_and_the_run_goes_on(tmp_path: Path) -> None:
    ran: list[str] = []

    def fails(world: World) -> None:
        ran.append("fails")
        raise AssertionError("exit code 1, expected 0: boom")

    def passes(world: World) -> None:
        ran.append("passes")

    lines: list[str] = []
    world = World(emulator=None, az=None, outsider=None, secrets={}, work=tmp_path)
    assert run_checks(world, [("first", fails), ("second", passes)], lines.append) == (1, 1)
    assert ran == ["fails", "passes"]
    assert lines[0] == "FAIL first: AssertionError: exit code 1, expected 0: boom"
    assert lines[1].startswith("pass second (")


def test_the_checks_have_unique_names() -> None:
    names = [name for name, _ in CHECKS]
    assert len(names) == len(set(names)) >= 30


def test_a_missing_az_is_a_clear_error(tmp_path: Path) -> None:
    err = io.StringIO()
    with redirect_stderr(err):
        assert main(["--az", str(tmp_path / "no-az")]) == 1
    assert "no such file" in err.getvalue()
