"""A multi-block custom HSM role through the CLI's live path, the real SDK and the emulator:
created with its blocks, updated without merging them, and re-planned to no changes."""

from __future__ import annotations

from typing import Any

from tests.e2e import test_live_resources
from tests.e2e.test_live_resources import APP_VM, Live

live = test_live_resources.live  # the fixture: an emulator on Contoso's empty state

P = "Microsoft.KeyVault/managedHsm/"


def _signer(second_block: list[str]) -> dict[str, Any]:
    return {
        "signer": {
            "hsm": "contoso",
            "name": "Contoso Signer",
            "permissions": [
                {"data_actions": ["keys/*"], "not_data_actions": ["keys/sign/action"]},
                {"data_actions": second_block},
            ],
        }
    }


def _live_blocks(live: Live) -> list[tuple[list[str], list[str]]]:
    [role] = live.state()["hsms"]["contoso"]["role_definitions"]
    return [(b["data_actions"], b["not_data_actions"]) for b in role["permissions"]]


def test_multi_block_role_is_created_and_updated_with_its_blocks(live: Live) -> None:
    signing = {
        "members": ["app-vm"],
        "data": [{"hsm": "contoso", "role": "signer", "scope": "/keys/app-signing"}],
    }
    live.manifest(roles=_signer(["keys/sign/action"]), teams={"signing": signing})
    plan = live.plan()
    assert plan.exit_code == 2, plan.stdout + plan.stderr
    assert "can use keys" in plan.stdout  # sign comes from block 2 although block 1 excludes it
    live.apply(2)  # the role, then app-vm's assignment
    assert _live_blocks(live) == [([P + "keys/*"], [P + "keys/sign/action"]), ([P + "keys/sign/action"], [])]

    whocan = live.run("whocan", "--hsm", "contoso", "--key", "app-signing", "keys/sign/action")
    assert whocan.exit_code == 0 and "app-vm" in whocan.stdout, whocan.stdout + whocan.stderr

    live.manifest(roles=_signer(["keys/sign/action", "keys/verify/action"]), teams={"signing": signing})
    plan = live.plan()
    assert plan.exit_code == 2 and "permissions[1].data_actions" in plan.stdout, plan.stdout
    live.apply(1)  # and the re-plan inside apply() finds nothing to do
    assert _live_blocks(live) == [
        ([P + "keys/*"], [P + "keys/sign/action"]),
        ([P + "keys/sign/action", P + "keys/verify/action"], []),
    ]
    assert APP_VM in {a["principal_id"] for a in live.state()["hsms"]["contoso"]["role_assignments"]}
