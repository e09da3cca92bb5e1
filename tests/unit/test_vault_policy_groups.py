"""A Key Vault access-policy entry whose object is a group reaches the group's transitive members
(`vault_access.expand_policies`), as a role assignment to a group does: with the path through each
group, PIM-eligible memberships "once activated", service principals honoured (Key Vault, unlike
the Managed HSM data plane, honours their groups), and a compound entry kept compound."""

from __future__ import annotations

from hsmsync.core.directory import Directory
from hsmsync.core.effective import Status
from hsmsync.core.state import AccessPolicy, LiveState, VaultState
from hsmsync.core.state_directory import DirectoryObject, PimMembership
from hsmsync.core.vault_access import expand_policies, policies_from_live, policy_notes
from hsmsync.core.whocan import who_can_on_vault

OUTER, INNER = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2"
ALICE, BOB, ROBOT = (
    "00000000-0000-4000-8000-0000000000b1",
    "00000000-0000-4000-8000-0000000000b2",
    "00000000-0000-4000-8000-0000000000b3",
)
APP = "00000000-0000-4000-8000-0000000000c1"

DIRECTORY = Directory.of(
    [
        DirectoryObject(id=OUTER, type="Group", display_name="outer"),
        DirectoryObject(id=INNER, type="Group", display_name="inner", member_of=(OUTER,)),
        DirectoryObject(id=ALICE, type="User", display_name="Alice", member_of=(INNER,)),
        DirectoryObject(
            id=BOB, type="User", display_name="Bob", pim=(PimMembership(group=OUTER, status="eligible"),)
        ),
        DirectoryObject(id=ROBOT, type="ServicePrincipal", display_name="robot", member_of=(OUTER,)),
    ]
)


def _live(*entries: AccessPolicy, rbac: bool = False) -> LiveState:
    vault = VaultState(
        url="https://kv.vault.azure.net",
        resource_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
        enable_rbac_authorization=rbac,
        access_policies=entries,
    )
    return LiveState(vaults={"kv": vault})


def test_a_group_entry_reaches_nested_members_with_their_path() -> None:
    policies = expand_policies(
        policies_from_live(_live(AccessPolicy(object_id=OUTER, secrets=("get",))), {}), DIRECTORY
    )
    paths = {p.principal_id: p for p in who_can_on_vault(policies, "kv", "secrets", "get")}
    assert set(paths) == {OUTER, INNER, ALICE, BOB, ROBOT}
    assert paths[ALICE].through == ("group inner [member]", "group outer [member]")
    assert paths[ALICE].principal == "Alice" and paths[ALICE].status == Status.HOLDS.value
    # Key Vault honours a service principal's groups (the HSM data plane does not)
    assert paths[ROBOT].status == Status.HOLDS.value
    assert paths[BOB].status == Status.ONCE_ACTIVATED.value
    assert paths[OUTER].through == ()


def test_members_are_named_by_the_manifest_and_hold_only_what_the_group_holds() -> None:
    policies = expand_policies(
        policies_from_live(_live(AccessPolicy(object_id=INNER, keys=("sign",))), {}),
        DIRECTORY,
        {ALICE: "alice"},
    )
    assert [p.principal for p in who_can_on_vault(policies, "kv", "keys", "sign")] == [INNER, "alice"]
    assert who_can_on_vault(policies, "kv", "keys", "get") == []


def test_a_compound_entry_naming_a_group_stays_compound_for_each_member() -> None:
    live = _live(AccessPolicy(object_id=INNER, application_id=APP, keys=("sign",)))
    policies = expand_policies(policies_from_live(live, {}), DIRECTORY)
    [alice] = [p for p in who_can_on_vault(policies, "kv", "keys", "sign") if p.principal_id == ALICE]
    assert alice.principal == f"Alice via application {APP}"
    assert alice.role.endswith(f", only via application {APP}")
    member = next(p for p in policies if p.principal_id == ALICE)
    notes = policy_notes(member, None)
    assert notes[0] == "through group inner [member]" and "only via application" in notes[1]


def test_an_ignored_entry_stays_ignored_for_members_and_no_directory_expands_nothing() -> None:
    ignored = expand_policies(
        policies_from_live(_live(AccessPolicy(object_id=OUTER, secrets=("get",)), rbac=True), {}), DIRECTORY
    )
    assert len(ignored) == 5 and all(p.ignored for p in ignored)
    assert who_can_on_vault(ignored, "kv", "secrets", "get") == []
    plain = policies_from_live(_live(AccessPolicy(object_id=OUTER, secrets=("get",))), {})
    assert expand_policies(plain, None) == plain
