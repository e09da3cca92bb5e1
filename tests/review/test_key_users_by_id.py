"""Who can use a key is listed per principal, not per displayed name: a principal the manifest
does not name shows as its object id, and a manifest key may be spelt like that id, yet they are
two principals, each with its own type, verbs and paths."""

from __future__ import annotations

from datetime import UTC, datetime

from hsmsync.core.effective import expand
from hsmsync.core.grants import Grant
from hsmsync.core.key_review import key_inventory
from hsmsync.core.plan import Plane
from hsmsync.core.state import HsmState, LiveState

SHOWN = "aaaaaaaa-2222-4333-8444-555555555555"  # an unknown principal's id, and a manifest key
OTHER_ID = "bbbbbbbb-2222-4333-8444-555555555555"


def _grant(principal: str | None, principal_id: str, kind: str, actions: set[str], via: str) -> Grant:
    return Grant(
        plane=Plane.DATA,
        target="h1",
        scope="/",
        role_id="21dbd100-6940-42c2-9190-5d6cb909625b",
        role_name="some role",
        principal_id=principal_id,
        principal=principal,
        principal_type=kind,
        via=via,
        data_actions=frozenset(f"Microsoft.KeyVault/managedHsm/keys/{a}/action" for a in actions),
    )


def test_two_principals_shown_alike_are_two_users_of_a_key() -> None:
    live = LiveState(hsms={"h1": HsmState(url="https://h1.managedhsm.azure.net", keys=("k",))})
    grants = (
        _grant(None, SHOWN, "Unknown", {"wrap", "unwrap"}, "live assignment 1"),
        _grant(SHOWN, OTHER_ID, "Group", {"sign"}, "team t"),
    )
    [entry] = key_inventory(live, expand(grants, None), None, now=datetime(2026, 1, 1, tzinfo=UTC)).entries
    assert entry.users is not None
    users = sorted((u.principal, u.principal_type, u.verbs) for u in entry.users)
    assert users == [(SHOWN, "Group", ("sign",)), (SHOWN, "Unknown", ("wrap", "unwrap"))]
