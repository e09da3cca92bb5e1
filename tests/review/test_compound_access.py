"""A compound identity's access-policy entry (a user only through an application) in effective
access: whocan, explain and the key review show it as "only via application X", apart from the
user's own entry, never as the user's unconditional access and never dropped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hsmsync.core.key_review import key_inventory
from hsmsync.core.state import AccessPolicy, KeyProperties, LiveState, VaultState
from hsmsync.core.vault_access import policies_from_live
from tests.review.test_review_commands import KV_READER, _with_vault_reader, run, workdir

__all__ = ["workdir"]  # the fixture
APP = "5e1c2d3a-4b5f-4a6e-9c7d-8e9f0a1b2c3d"


def _with_compound_entry(workdir: Path) -> None:
    """kv-reader (declared: secrets get, list) also holds, live, keys sign through APP."""
    _with_vault_reader(workdir)
    state = json.loads((workdir / "live-as-tutorial.json").read_text())
    state["vaults"]["contoso-kv"]["access_policies"].append(
        {"object_id": KV_READER, "application_id": APP, "keys": ["sign"]}
    )
    (workdir / "live-as-tutorial.json").write_text(json.dumps(state))


def test_whocan_names_the_compound_holder_and_its_application(workdir: Path) -> None:
    _with_compound_entry(workdir)
    out = run(workdir, "whocan", "--vault", "contoso-kv", "keys/sign", "--state", "live-as-tutorial.json").out
    is_now = out.split("In live state (what is):")[1]
    assert (
        f"kv-reader via application {APP} (User)  via live access policy  "
        f"access policy (keys: sign), only via application {APP}"
    ) in is_now, is_now
    # its plain entry holds no keys/sign: the user alone is not listed as a holder
    assert "kv-reader (User)" not in is_now
    unwrap = run(
        workdir, "whocan", "--vault", "contoso-kv", "keys/unwrapkey", "--state", "live-as-tutorial.json"
    )
    assert (
        "kv-reader (User)  via live access policy  access policy (keys: unwrapkey) at the whole vault\n"
        in unwrap.out
    )


def test_explain_shows_both_entries_and_the_compound_one_as_undeclared(workdir: Path) -> None:
    _with_compound_entry(workdir)
    out = run(workdir, "explain", "kv-reader", "--state", "live-as-tutorial.json").out
    is_now = out.split("In live state (what is):")[1]
    assert (
        f"    access policy, only via application {APP}  via live access policy\n      can: keys: sign\n"
        in is_now
    )
    assert f"! only via application {APP} (a compound identity)" in is_now
    assert "      can: keys: get, unwrapkey; secrets: get, list\n" in is_now  # the plain entry, apart
    assert is_now.count("! not declared by the manifest") == 1  # the compound entry only
    as_json = json.loads(
        run(workdir, "explain", "kv-reader", "--state", "live-as-tutorial.json", "--format", "json").out
    )
    live_side = json.dumps(as_json)
    assert f'"application_id": "{APP}"' in live_side


def test_the_key_review_lists_the_user_through_the_application_apart() -> None:
    user = "c1000000-0000-4000-8000-000000000001"
    vault = VaultState(
        url="https://kv.vault.azure.net",
        resource_id="/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
        access_policies=(
            AccessPolicy(object_id=user, keys=("get",)),
            AccessPolicy(object_id=user, application_id=APP, keys=("sign",)),
        ),
        keys=(KeyProperties(name="kv-key", kty="RSA"),),
    )
    live = LiveState(vaults={"kv": vault})
    inv = key_inventory(live, None, policies_from_live(live, {}), now=datetime(2026, 6, 1, tzinfo=UTC))
    [entry] = inv.entries
    assert entry.users is not None
    assert [(u.principal, u.verbs, u.paths) for u in entry.users] == [
        (
            f"{user} via application {APP}",
            ("sign",),
            (
                f"access policy (keys: sign), only via application {APP} at the whole vault (live access policy)",
            ),
        )
    ]
