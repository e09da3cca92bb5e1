"""The access-policy -> Azure RBAC mapping (core/vault_migration.py): Microsoft's template table and
permission mapping, exact built-in roles, generated custom roles, gains and losses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsmsync.core.catalog import management_role_map
from hsmsync.core.desired import MigrationChoices
from hsmsync.core.state import AccessPolicy
from hsmsync.core.vault_migration import (
    all_permissions,
    as_assigned,
    granted_by_assignments,
    key_vault_roles,
    migrate_identity,
    migrate_vault,
    permission_actions,
    templates,
)
from hsmsync.core.vault_permissions import PERMISSIONS

OID = "a0000000-0000-4000-8000-000000000001"
VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
ALL = {kind: tuple(p.lower() for p in names) for kind, names in PERMISSIONS.items()}


def _roles(**lists: tuple[str, ...]) -> tuple[list[str], set[str], set[str]]:
    m = migrate_identity("kv", AccessPolicy(object_id=OID, **lists), "app")
    return [r.role_name for r in m.roles], set(m.gained), set(m.lost)


def test_the_data_covers_every_permission_and_names_known_roles() -> None:
    assert all_permissions() == {f"{k}/{p}" for k, names in ALL.items() for p in names}
    assert all(
        a.startswith("Microsoft.KeyVault/vaults/") for acts in permission_actions().values() for a in acts
    )
    known = key_vault_roles()
    assert {r for t in templates() for r in t.roles} <= set(known)
    assert len(templates()) == 12 and sum(1 for t in templates() if not t.roles) == 3


@pytest.mark.parametrize(
    ("lists", "roles"),
    [
        ({"keys": ALL["keys"]}, ["Key Vault Crypto Officer"]),
        ({"secrets": ALL["secrets"]}, ["Key Vault Secrets Officer"]),
        ({"certificates": ALL["certificates"]}, ["Key Vault Certificates Officer"]),
        (
            {"keys": ALL["keys"], "secrets": ALL["secrets"]},
            ["Key Vault Crypto Officer", "Key Vault Secrets Officer"],
        ),
        ({"keys": ("get", "list", "wrapkey", "unwrapkey")}, ["Key Vault Crypto Service Encryption User"]),
        ({"secrets": ("get", "list")}, ["Key Vault Secrets User"]),
    ],
)
def test_microsofts_mapping_where_it_fits_exactly(
    lists: dict[str, tuple[str, ...]], roles: list[str]
) -> None:
    assert _roles(**lists) == (roles, set(), set())


def test_key_secret_certificate_management_is_administrator_which_also_gives_storage() -> None:
    roles, gained, lost = _roles(keys=ALL["keys"], secrets=ALL["secrets"], certificates=ALL["certificates"])
    assert roles == ["Key Vault Administrator"]
    assert gained == {f"storage/{p}" for p in ALL["storage"]} and not lost  # shown, never hidden


def test_no_fitting_built_in_role_gives_a_custom_role_with_exactly_the_data_actions() -> None:
    m = migrate_identity("kv", AccessPolicy(object_id=OID, keys=("get", "decrypt", "sign")), "byok")
    (role,) = m.roles  # Azure Information BYOK: "custom role required"
    assert not role.builtin
    assert role.data_actions == (
        "Microsoft.KeyVault/vaults/keys/decrypt/action",
        "Microsoft.KeyVault/vaults/keys/read",
        "Microsoft.KeyVault/vaults/keys/sign/action",
    )
    assert m.gained == {"keys/list"} and not m.lost  # keys/read is get and list alike


def test_a_built_in_role_for_part_and_a_custom_role_for_the_rest() -> None:
    backup = {"keys": ("get", "list", "backup"), "secrets": ("get", "list", "backup")}  # Azure Backup
    roles, gained, lost = _roles(**backup)
    assert roles[0] == "Key Vault Secrets User" and roles[1].startswith("kv vault data access: ")
    assert not gained and not lost


def test_without_custom_roles_what_no_built_in_gives_is_lost_and_refused_until_accepted() -> None:
    policy = AccessPolicy(object_id=OID, secrets=("get", "list", "backup"))
    refused = migrate_vault("kv", VAULT, [policy], {OID: "app"}, MigrationChoices(custom_roles=False))
    (identity,) = refused.identities
    assert [r.role_name for r in identity.roles] == ["Key Vault Secrets User"]
    assert identity.lost == {"secrets/backup"} and refused.refused == (identity,)
    accepted = MigrationChoices(accept_loss={OID: frozenset({"secrets/backup"})}, custom_roles=False)
    assert migrate_vault("kv", VAULT, [policy], {OID: "app"}, accepted).refused == ()


def test_assignments_count_at_the_vault_and_above_only_through_data_actions() -> None:
    roles = management_role_map()
    secrets_user, reader, owner = (
        "4633458b-17de-408a-b874-0445c86b69e6",
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
    )
    granted = granted_by_assignments(
        [
            ("A", secrets_user, "/subscriptions/s"),  # above the vault: counts
            ("B", secrets_user, VAULT + "/secrets/one"),  # one secret only: not vault-wide
            ("C", secrets_user, VAULT.replace("/kv", "/other")),  # another vault
            ("D", reader, VAULT),  # actions only
            ("E", owner, VAULT),  # actions `*`, no data actions
        ],
        roles,
        VAULT,
    )
    assert granted == {"a": frozenset({"secrets/get", "secrets/list"}), "d": frozenset(), "e": frozenset()}


@settings(max_examples=150, deadline=None)
@given(st.sets(st.sampled_from(sorted(all_permissions())), min_size=1))
def test_any_permission_set_is_kept_and_gains_only_what_its_own_data_actions_give(had: set[str]) -> None:
    """With custom roles (the default) nothing is lost; a gain is only a permission whose data
    actions the identity already had through others (RBAC's coarseness, as the README says)."""
    policy = AccessPolicy(
        object_id=OID,
        **{kind: tuple(p.split("/")[1] for p in had if p.startswith(kind + "/")) for kind in ALL},
    )
    m = migrate_identity("kv", policy, "app")
    assert m.lost == frozenset() and m.refused_loss == frozenset()
    actions = permission_actions()
    held = {a.lower() for p in had for a in actions[p]}
    assert all({a.lower() for a in actions[p]} <= held for p in m.gained), sorted(m.gained)
    without_custom = migrate_identity("kv", policy, "app", custom_roles=False)
    assert (
        without_custom.granted <= m.granted and without_custom.lost == frozenset(had) - without_custom.granted
    )


APP = "c2000000-0000-4000-8000-000000000002"


def test_a_compound_identity_gets_no_role_and_loses_everything_until_accepted_by_application() -> None:
    """Azure RBAC cannot say "only through this application": a role for the user would widen the
    access to every application, so none is proposed, and the whole entry is lost."""
    plain = AccessPolicy(object_id=OID, secrets=("get",))
    compound = AccessPolicy(object_id=OID, application_id=APP, secrets=("get", "list"))
    m = migrate_vault("kv", VAULT, [compound, plain], {OID: "alice"})
    assert [(i.label, i.roles == ()) for i in m.identities] == [
        ("alice", False),
        (f"alice via application {APP}", True),
    ]
    user, via = m.identities
    assert user.lost == frozenset() and not user.refused_loss
    assert via.lost == via.refused_loss == {"secrets/get", "secrets/list"}
    assert m.refused == (via,) and via.acceptance == f"alice: [via {APP}]"
    # accepting the user's own permission names does not accept the compound entry
    by_name = MigrationChoices(accept_loss={OID: frozenset({"secrets/get", "secrets/list"})})
    assert migrate_vault("kv", VAULT, [compound], {OID: "alice"}, by_name).refused
    accepted = MigrationChoices(accept_loss={OID: frozenset({f"via {APP}"})})
    [moved] = migrate_vault("kv", VAULT, [compound], {OID: "alice"}, accepted).identities
    assert moved.accepted_loss == moved.lost and not moved.refused_loss
    # the user's own role assignments never count as the compound entry's access
    granted = {OID: frozenset({"secrets/get", "secrets/list"})}
    assert as_assigned(m, granted).identities[1].granted == frozenset()
