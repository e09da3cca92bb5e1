"""Compound identities in the manifest: `application:` on an access-policy entry, a principal's
entries as a list (its own and through applications), and `accept_loss: {user: [via <app>]}`;
what is accepted, what is refused (file, line and field)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsmsync.core.errors import ManifestError
from hsmsync.core.state import AccessPolicy
from hsmsync.manifest import parse_manifest

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
ALICE = "c1000000-0000-4000-8000-000000000001"
APP = "c2000000-0000-4000-8000-000000000002"


def _manifest(entry: str, migration: str = "") -> str:
    return (
        "version: 1\n"
        "principals:\n"
        f"  alice: {{type: User, id: {ALICE}}}\n"
        "vaults:\n"
        "  kv:\n"
        "    url: https://kv.vault.azure.net\n"
        f"    resource_id: {VAULT}\n"
        "    access_policies:\n"
        f"      alice: {entry}\n" + migration
    )


def _policies(text: str) -> tuple[AccessPolicy, ...]:
    return parse_manifest(text, Path("m.yaml")).desired.vaults["kv"].access_policies


def test_an_entry_through_an_application_and_a_list_of_entries() -> None:
    assert _policies(_manifest(f"{{application: {APP}, secrets: [get]}}")) == (
        AccessPolicy(object_id=ALICE, application_id=APP, secrets=("get",)),
    )
    both = _policies(_manifest(f"[{{keys: [get]}}, {{application: {APP.upper()}, secrets: [get]}}]"))
    assert both == (
        AccessPolicy(object_id=ALICE, keys=("get",)),
        AccessPolicy(object_id=ALICE, application_id=APP, secrets=("get",)),
    )


@pytest.mark.parametrize(
    ("entry", "migration", "where", "message"),
    [
        (
            f"[{{application: {APP}, keys: [get]}}, {{application: {APP}, secrets: [get]}}]",
            "",
            "m.yaml:9: vaults.kv.access_policies.alice[1]",
            f"'alice' has two access policies through application {APP}; merge them into one",
        ),
        (
            "{application: portal, keys: [get]}",
            "",
            "m.yaml:9: vaults.kv.access_policies.alice.application",
            "'portal' is not a GUID",
        ),
        (
            "{application: 00000000-0000-0000-0000-000000000000, keys: [get]}",
            "",
            "m.yaml:9: vaults.kv.access_policies.alice.application",
            "the nil GUID names no application",
        ),
        (  # the object id pasted as the application (any case): an entry no token ever matches
            f"[{{keys: [list]}}, {{application: {ALICE.upper()}, keys: [get]}}]",
            "",
            "m.yaml:9: vaults.kv.access_policies.alice[1].application",
            f"{ALICE} is the object id of 'alice' itself; give the application (client) id it calls through",
        ),
        ("{secret: [get]}", "", "vaults.kv.access_policies.alice.secret", "did you mean 'secrets'?"),
        (
            "{keys: [get]}",
            "    migration: {accept_loss: {alice: [via portal]}}\n",
            "m.yaml:10: vaults.kv.migration.accept_loss.alice[0]",
            "'via portal': give 'via <application id>' (a GUID)",
        ),
    ],
)
def test_bad_compound_input_names_file_line_and_field(
    entry: str, migration: str, where: str, message: str
) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(_manifest(entry, migration), Path("m.yaml"))
    text = str(info.value)
    assert where in text and message in text, text
