"""The key review (core/key_review.py) and its lint rules HSM030/HSM031, with time injected:
before, at and after a key's expiry, and at the edge of the warning window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hsmsync.core.directory import Directory
from hsmsync.core.effective import expand
from hsmsync.core.grants import grants_from_desired
from hsmsync.core.key_review import HSM_KEY_USE, Expiry, expiry_of, key_inventory
from hsmsync.core.lint import lint
from hsmsync.core.state import AccessPolicy, HsmState, KeyProperties, LiveState, VaultState
from hsmsync.core.state_directory import DirectoryObject, PimMembership
from hsmsync.core.vault_access import policies_from_live
from tests.review.builders import build, data, pid

EXPIRES = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
HSM_VERBS = tuple(verb for _, verb in HSM_KEY_USE)
SIGNING = KeyProperties(
    name="signing",
    kty="EC-HSM",
    enabled=True,
    expires_on=EXPIRES,
    created_on=datetime(2026, 1, 31, tzinfo=UTC),
    updated_on=datetime(2026, 2, 1, tzinfo=UTC),
)
FOREVER = KeyProperties(name="forever", kty="RSA-HSM", created_on=datetime(2025, 5, 1, tzinfo=UTC))


def _live(*, vault_rbac: bool = False) -> LiveState:
    hsm = HsmState(
        url="https://h1.managedhsm.azure.net",
        keys=("forever", "named-only", "signing"),
        key_properties=(SIGNING, FOREVER),
    )
    vault = VaultState(
        url="https://kv.vault.azure.net",
        resource_id="/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
        enable_rbac_authorization=vault_rbac,
        access_policies=(AccessPolicy(object_id=pid("app"), keys=("sign", "get")),),
        keys=(KeyProperties(name="kv-key", kty="RSA", expires_on=EXPIRES),),
    )
    return LiveState(hsms={"h1": hsm}, vaults={"kv": vault})


@pytest.mark.parametrize(
    ("now", "expected", "days"),
    [
        (EXPIRES - timedelta(days=31), Expiry.OK, 31),  # just outside the 30-day window
        (EXPIRES - timedelta(days=30), Expiry.EXPIRING, 30),  # at the window's edge: in it
        (EXPIRES - timedelta(seconds=1), Expiry.EXPIRING, 1),  # days left round up while it works
        (EXPIRES, Expiry.EXPIRED, 0),  # at the expiry time the key no longer works
        (EXPIRES + timedelta(days=2), Expiry.EXPIRED, -2),
    ],
)
def test_expiry_before_at_and_after(now: datetime, expected: Expiry, days: int) -> None:
    assert expiry_of(SIGNING, now, 30) == (expected, days)


def test_no_expiry_and_unknown() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert expiry_of(FOREVER, now, 30) == (Expiry.NONE, None)
    assert expiry_of(None, now, 30) == (Expiry.UNKNOWN, None)


def test_inventory_lists_every_key_with_who_can_use_it() -> None:
    _, desired = build(
        {"app": "ServicePrincipal", "ops": "Group"},
        {
            "app": (["app"], [data("Crypto User", "/keys/signing")]),
            "ops": (["ops"], [data("Managed HSM Administrator", "/")]),
        },
    )
    live = _live()
    inv = key_inventory(
        live,
        expand(grants_from_desired(desired), None),
        policies_from_live(live, desired.principals),
        now=datetime(2026, 6, 1, tzinfo=UTC),
    )
    by_name = {(k.owner, k.name): k for k in inv.entries}
    assert [(k.owner, k.name) for k in inv.entries] == [
        ("h1", "forever"),
        ("h1", "named-only"),
        ("h1", "signing"),
        ("kv", "kv-key"),
    ]
    signing = by_name[("h1", "signing")]
    assert signing.properties == SIGNING and signing.last_rotated == SIGNING.created_on
    assert signing.expiry is Expiry.OK and signing.days_left == 245  # 244 days and 12 hours: rounded up
    assert signing.users is not None
    [app] = signing.users
    assert app.principal == "app"
    assert app.verbs == ("sign", "verify", "encrypt", "decrypt", "wrap", "unwrap", "release")
    assert app.paths == ("Managed HSM Crypto User at /keys/signing (team app)",)
    # Crypto User at one key reaches no other key; Administrator uses no key at all.
    assert by_name[("h1", "forever")].users == ()
    assert by_name[("h1", "named-only")].expiry is Expiry.UNKNOWN
    kv = by_name[("kv", "kv-key")]
    assert kv.users is not None and [(u.principal, u.verbs) for u in kv.users] == [("app", ("sign",))]


def test_rbac_vault_users_come_from_role_assignments_not_policies() -> None:
    live = _live(vault_rbac=True)
    assert live.vaults["kv"].access_policies  # inert on a vault that uses Azure RBAC
    inv = key_inventory(live, (), policies_from_live(live, {}), now=datetime(2026, 6, 1, tzinfo=UTC))
    entry = next(k for k in inv.entries if k.owner == "kv")
    assert entry.users == () and entry.can_obtain == () and entry.conditional == ()
    assert not any("uses Azure RBAC" in n for n in inv.notes)


def test_keys_not_listed_are_a_note() -> None:
    live = LiveState(hsms={"h1": HsmState(url="https://h1.managedhsm.azure.net", keys=None)})
    inv = key_inventory(live, (), (), now=datetime(2026, 6, 1, tzinfo=UTC))
    assert inv.entries == () and inv.notes == ("HSM h1: its keys could not be listed",)


def _key_findings(now: datetime | None, days: int | None = None) -> list[tuple[str, str, str]]:
    manifest, desired = build({}, {})
    if days is not None:
        manifest = manifest.model_copy(
            update={"lint": manifest.lint.model_copy(update={"key_expiry_warning_days": days})}
        )
    report = lint(manifest, desired, _live(), now=now)
    return [(f.rule_id, f.target, f.message) for f in report.findings if f.rule_id in ("HSM030", "HSM031")]


def test_lint_flags_a_key_without_expiry_and_one_expiring() -> None:
    now = EXPIRES - timedelta(days=10)
    assert _key_findings(now) == [
        ("HSM030", "h1/forever", "key forever on HSM h1 has no expiry date"),
        (
            "HSM031",
            "h1/signing",
            "key signing on HSM h1 expires on 2027-01-31T12:00:00+00:00, in 10 days (within 30)",
        ),
        (
            "HSM031",
            "kv/kv-key",
            "key kv-key on vault kv expires on 2027-01-31T12:00:00+00:00, in 10 days (within 30)",
        ),
    ]


def test_lint_key_expiry_before_window_at_and_after() -> None:
    assert [f[0] for f in _key_findings(EXPIRES - timedelta(days=31))] == ["HSM030"]
    at = _key_findings(EXPIRES)
    assert ("HSM031", "h1/signing", "key signing on HSM h1 expired on 2027-01-31T12:00:00+00:00") in at
    after = _key_findings(EXPIRES + timedelta(days=400))
    assert ("HSM031", "h1/signing", "key signing on HSM h1 expired on 2027-01-31T12:00:00+00:00") in after


def test_lint_warning_window_comes_from_the_manifest() -> None:
    now = EXPIRES - timedelta(days=45)
    assert [f[0] for f in _key_findings(now)] == ["HSM030"]
    assert [f[0] for f in _key_findings(now, days=60)] == ["HSM030", "HSM031", "HSM031"]


def test_lint_without_a_time_leaves_keys_alone() -> None:
    """A plan's review passes no time: a plan changes no key."""
    assert _key_findings(None) == []


def test_key_properties_must_name_listed_keys() -> None:
    with pytest.raises(ValueError, match="key_properties name keys not in `keys`: ghost"):
        HsmState(url="https://h1", keys=("a",), key_properties=(KeyProperties(name="ghost"),))


def test_naive_expiry_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        KeyProperties.model_validate({"name": "k", "expires_on": "2027-01-01T00:00:00"})


def test_key_users_through_groups_once_activated_and_can_obtain_apart() -> None:
    """A group holds Crypto User on the key: its user member can use it (with the path), its
    PIM-eligible member once activated, its service-principal member not at all (the HSM data
    plane ignores a service principal's groups); an Administrator can obtain it."""
    user, eligible, app = pid("alice"), pid("bob"), pid("ci")
    directory = Directory.of(
        [
            DirectoryObject(id=pid("ops"), type="Group", display_name="key users"),
            DirectoryObject(id=user, type="User", display_name="alice", member_of=(pid("ops"),)),
            DirectoryObject(id=app, type="ServicePrincipal", display_name="ci", member_of=(pid("ops"),)),
            DirectoryObject(
                id=eligible,
                type="User",
                display_name="bob",
                pim=(PimMembership(group=pid("ops"), status="eligible"),),
            ),
        ]
    )
    _, desired = build(
        {"ops": "Group", "admin": "ServicePrincipal"},
        {
            "ops": (["ops"], [data("Crypto User", "/keys/signing")]),
            "admin": (["admin"], [data("Managed HSM Administrator", "/")]),
        },
    )
    effective = expand(grants_from_desired(desired), directory)
    inv = key_inventory(_live(), effective, (), now=datetime(2026, 6, 1, tzinfo=UTC))
    signing = next(k for k in inv.entries if k.name == "signing")
    assert signing.users is not None and signing.once_activated is not None and signing.can_obtain is not None
    assert [u.principal for u in signing.users] == ["alice", "ops"]
    assert signing.users[0].paths == (
        "Managed HSM Crypto User at /keys/signing (team ops), through group key users [member]",
    )
    assert [(u.principal, u.paths) for u in signing.once_activated] == [
        (
            "bob",
            (
                "Managed HSM Crypto User at /keys/signing (team ops), through group key users [eligible (PIM)]",
            ),
        )
    ]
    assert [u.principal for u in signing.can_obtain] == ["admin"]
    assert signing.can_obtain[0].verbs == HSM_VERBS
    # the Crypto User group at one key reaches no other key
    forever = next(k for k in inv.entries if k.name == "forever")
    assert forever.users == () and forever.once_activated == ()
