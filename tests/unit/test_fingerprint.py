"""The stale check's fingerprint covers the whole live state (issue 11 item 4)."""

from __future__ import annotations

from hsmsync.core.fingerprint import describe_differences, fingerprint
from hsmsync.core.state import AccessPolicy, LiveState, VaultState
from tests.unit.builders import ALICE, AUDITOR, BOB, CRYPTO_USER, assignment, live

VAULT = VaultState(
    url="https://kv1.vault.azure.net",
    resource_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1",
    access_policies=(AccessPolicy(object_id=ALICE, keys=("get", "sign")),),
)


def _with(state: LiveState, **update: object) -> LiveState:
    return state.model_copy(update=update)


def test_fields_the_hand_listed_fingerprint_left_out_now_count() -> None:
    base = _with(live(assignment(1, "/", AUDITOR, ALICE)), vaults={"kv1": VAULT})
    moved_vault = VAULT.model_copy(update={"url": "https://elsewhere.vault.azure.net"})
    for changed in (
        _with(base, tenant_id="99999999-0000-0000-0000-000000000000"),
        _with(base, vaults={"kv1": moved_vault}),
        _with(base, vaults={"kv1": VAULT.model_copy(update={"tenant_id": ALICE})}),
    ):
        assert fingerprint(changed) != fingerprint(base)
        assert describe_differences(base, changed) != ["other recorded properties changed"]


def test_listing_order_does_not_count() -> None:
    a, b = assignment(1, "/", AUDITOR, ALICE), assignment(2, "/keys", CRYPTO_USER, BOB)
    policy = AccessPolicy(object_id=ALICE, keys=("sign", "get"))
    one = _with(live(a, b), vaults={"kv1": VAULT.model_copy(update={"access_policies": (policy,)})})
    other = _with(live(b, a), vaults={"kv1": VAULT})
    assert fingerprint(one) == fingerprint(other)


def test_a_changed_assignment_is_described() -> None:
    before = live(assignment(1, "/", AUDITOR, ALICE))
    after = live(assignment(1, "/", AUDITOR, ALICE), assignment(2, "/", AUDITOR, BOB))
    assert fingerprint(before) != fingerprint(after)
    assert describe_differences(before, after) == [
        f"h1: assignment 00000000-0000-0000-0000-000000000002 appeared ({AUDITOR} -> {BOB} at /)"
    ]
