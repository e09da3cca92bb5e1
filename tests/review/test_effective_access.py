"""Effective access through groups, PIM for Groups and escalation, on the Contoso example (fake
path: the state file's `directory`) and on literals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hsmsync.core.directory import Directory
from hsmsync.core.effective import Status, abilities, expand
from hsmsync.core.grants import Grant
from hsmsync.core.plan import Plane
from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import DirectoryObject, PimMembership
from hsmsync.core.whocan import who_can_effective
from tests.conftest import CONTOSO, run_cli

GROUP, NESTED = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2"
USER, ELIGIBLE, APP = (
    "00000000-0000-4000-8000-0000000000b1",
    "00000000-0000-4000-8000-0000000000b2",
    "00000000-0000-4000-8000-0000000000c1",
)
P = "Microsoft.KeyVault/managedHsm/"
ALICE, BOB = "a1b2c3d4-0001-4a00-8000-00000000a11c", "a1b2c3d4-0002-4a00-8000-00000000b0b0"
CAROL, RUNNER = "a1b2c3d4-0003-4a00-8000-00000000ca01", "a1b2c3d4-0004-4a00-8000-0000000c1c1c"


def _directory() -> Directory:
    return Directory.of(
        [
            DirectoryObject(id=GROUP, type="Group", display_name="sec"),
            DirectoryObject(id=NESTED, type="Group", display_name="oncall", member_of=(GROUP,)),
            DirectoryObject(id=USER, type="User", display_name="alice", member_of=(NESTED,)),
            DirectoryObject(id=APP, type="ServicePrincipal", display_name="ci", member_of=(GROUP,)),
            DirectoryObject(
                id=ELIGIBLE,
                type="User",
                display_name="eve",
                pim=(PimMembership(group=GROUP, status="eligible"),),
            ),
        ]
    )


def _grant(*actions: str, principal: str = GROUP, scope: str = "/", plane: Plane = Plane.DATA) -> Grant:
    return Grant(
        plane=plane,
        target="h1" if plane is Plane.DATA else "arm",
        scope=scope,
        role_id="00000000-0000-4000-8000-00000000f001",
        role_name="some role",
        principal_id=principal,
        principal="sec",
        principal_type="Group",
        via="team s",
        data_actions=frozenset(P + a for a in actions),
    )


class TestExpand:
    def test_nested_members_get_the_group_grant_with_their_path(self) -> None:
        effective = expand([_grant("keys/sign/action")], _directory())
        alice = next(e for e in effective if e.principal_id == USER)
        assert alice.status is Status.HOLDS
        assert alice.path() == "alice -> group oncall [member] -> group sec [member] -> some role at / on h1"

    def test_pim_eligible_member_can_only_once_activated(self) -> None:
        effective = expand([_grant("keys/sign/action")], _directory())
        eve = next(e for e in effective if e.principal_id == ELIGIBLE)
        assert eve.status is Status.ONCE_ACTIVATED
        assert not eve.standing
        assert "eligible (PIM)" in eve.path()

    def test_service_principal_group_membership_not_honoured_on_data_plane_only(self) -> None:
        effective = expand([_grant("keys/sign/action"), _grant(plane=Plane.MANAGEMENT)], _directory())
        ci = {e.grant.plane: e.status for e in effective if e.principal_id == APP}
        assert ci == {Plane.DATA: Status.NOT_HONOURED, Plane.MANAGEMENT: Status.HOLDS}

    def test_without_a_directory_only_the_assignee(self) -> None:
        assert [e.principal_id for e in expand([_grant("keys/sign/action")], None)] == [GROUP]

    def test_a_membership_cycle_ends(self) -> None:
        cyclic = Directory.of(
            [
                DirectoryObject(id=GROUP, type="Group", display_name="a", member_of=(NESTED,)),
                DirectoryObject(id=NESTED, type="Group", display_name="b", member_of=(GROUP,)),
            ]
        )
        ids = [e.principal_id for e in expand([_grant("keys/sign/action")], cyclic)]
        assert sorted(set(ids)) == sorted({GROUP, NESTED})

    def test_a_member_nested_deeper_than_32_groups_still_holds(self) -> None:
        """Azure follows nesting at any depth: a user 40 groups down holds the top group's grant
        (a depth bound of 32 dropped it, and whocan answered without it)."""
        chain = [GROUP, *(f"00000000-0000-4000-8000-{i:012d}" for i in range(1, 40))]
        objects = [DirectoryObject(id=GROUP, type="Group", display_name="top")]
        objects += [
            DirectoryObject(id=g, type="Group", display_name=g, member_of=(above,))
            for above, g in zip(chain, chain[1:], strict=False)
        ]
        objects.append(DirectoryObject(id=USER, type="User", display_name="alice", member_of=(chain[-1],)))
        effective = expand([_grant("keys/sign/action")], Directory.of(objects))
        alice = next(e for e in effective if e.principal_id == USER)
        assert alice.status is Status.HOLDS and len(alice.hops) == 40

    def test_diamond_nesting_gives_one_path_per_kind(self) -> None:
        layers = [[f"00000000-0000-4000-8000-{i:04d}{j:08d}" for j in range(2)] for i in range(12)]
        objects = [DirectoryObject(id=GROUP, type="Group", display_name="top")]
        above = [GROUP]
        for layer in layers:  # each group is in both groups of the layer above: 2**12 paths
            objects += [
                DirectoryObject(id=g, type="Group", display_name=g, member_of=tuple(above)) for g in layer
            ]
            above = layer
        objects.append(DirectoryObject(id=USER, type="User", display_name="alice", member_of=tuple(above)))
        effective = expand([_grant("keys/sign/action")], Directory.of(objects))
        assert [e.principal_id for e in effective].count(USER) == 1
        assert len(effective) == 1 + 24 + 1
        alice = next(e for e in effective if e.principal_id == USER)
        assert len(alice.hops) == 13  # the shortest path

    def test_active_and_eligible_paths_both_shown(self) -> None:
        both = Directory.of(
            [
                DirectoryObject(id=GROUP, type="Group", display_name="sec"),
                DirectoryObject(
                    id=USER,
                    type="User",
                    display_name="alice",
                    member_of=(GROUP,),
                    pim=(PimMembership(group=GROUP, status="eligible"),),
                ),
            ]
        )
        statuses = sorted(
            e.status for e in expand([_grant("keys/sign/action")], both) if e.principal_id == USER
        )
        assert statuses == [Status.ONCE_ACTIVATED, Status.HOLDS]


class TestAbilities:
    def test_held_once_activated_obtainable(self) -> None:
        effective = expand([_grant("roleAssignments/write/action", "keys/create")], _directory())
        alice = abilities(effective, USER, "h1", "/keys/k1")
        assert [a.action for a in alice.held] == ["keys/create", "roleassignments/write/action"]
        obtainable = {a.action for a in alice.obtainable}
        assert "keys/sign/action" in obtainable and "keys/export/action" in obtainable
        assert "keys/create" not in obtainable  # held already
        eve = abilities(effective, ELIGIBLE, "h1", "/")
        assert eve.held == ()
        assert [a.action for a in eve.once_activated] == ["keys/create", "roleassignments/write/action"]
        assert eve.obtainable  # once activated, through the eligible path
        ci = abilities(effective, APP, "h1", "/")
        assert ci.held == () and ci.obtainable == ()
        assert [a.action for a in ci.not_honoured] == ["keys/create", "roleassignments/write/action"]

    def test_writer_at_one_key_obtains_only_there(self) -> None:
        effective = expand([_grant("roleAssignments/write/action", scope="/keys/k1")], _directory())
        assert abilities(effective, USER, "h1", "/keys/k1").obtainable
        assert abilities(effective, USER, "h1", "/keys/k2").obtainable == ()
        assert abilities(effective, USER, "h1", "/").obtainable == ()

    def test_who_can_two_lists(self) -> None:
        effective = expand(
            [_grant("keys/sign/action", principal=USER), _grant("roleAssignments/write/action")], _directory()
        )
        answer = who_can_effective(effective, "h1", P + "keys/sign/action", "k1")
        assert [p.principal_id for p in answer.holds] == [USER]
        obtain = {p.principal_id: p.status for p in answer.can_obtain}
        assert USER not in obtain  # holds it already
        assert set(obtain) == {GROUP, NESTED, ELIGIBLE}
        assert obtain[ELIGIBLE].endswith("once activated")


@pytest.fixture
def groups(tmp_path: Path) -> Path:
    for name in ("hsmsync.yaml", "live-with-groups.json"):
        (tmp_path / name).write_text((CONTOSO / name).read_text())
    return tmp_path


class TestContosoFakePath:
    def test_state_file_directory_loads(self) -> None:
        live = LiveState.model_validate(json.loads((CONTOSO / "live-with-groups.json").read_text()))
        assert live.directory is not None

    def test_whocan_holds_and_can_obtain(self, groups: Path) -> None:
        r = run_cli(
            "whocan",
            "sign",
            "--hsm",
            "contoso",
            "--state",
            "live-with-groups.json",
            "--format",
            "json",
            cwd=groups,
        )
        assert r.exit_code == 0, r.stderr
        body = json.loads(r.stdout)
        assert [p["principal"] for p in body["is_now"]] == ["app-vm"]
        obtain = {p["principal_id"]: p for p in body["is_now_can_obtain"]}
        # The nested on-call group's member, through both groups; Bob only once activated.
        assert obtain[ALICE]["through"] == [
            "group Contoso HSM On-call [member]",
            "group Contoso Security Team [member]",
        ]
        assert obtain[BOB]["status"].endswith("once activated")
        assert RUNNER not in obtain  # a service principal's group membership: not honoured on the HSM

    def test_whocan_lists_not_honoured_and_eligible_apart(self, groups: Path) -> None:
        r = run_cli(
            "whocan",
            "roleAssignments/write",
            "--hsm",
            "contoso",
            "--state",
            "live-with-groups.json",
            cwd=groups,
        )
        assert r.exit_code == 0, r.stderr
        live = r.stdout.split("In live state (what is):")[1]
        can, rest = live.split("Can once a PIM-eligible group membership is activated (not now):")
        eligible, ignored = rest.split("Not honoured by the HSM data plane")
        assert "Alice (on-call engineer)" in can and "Bob" not in can and "security CI runner" not in can
        assert "Bob (security, just in time)" in eligible
        assert "security CI runner (ServicePrincipal)" in ignored

    def test_explain_user_through_nested_groups(self, groups: Path) -> None:
        r = run_cli("explain", ALICE, "--state", "live-with-groups.json", "--format", "json", cwd=groups)
        assert r.exit_code == 0, r.stderr
        now = json.loads(r.stdout)["is_now"]
        assert now["principal"] == "Alice (on-call engineer)" and now["principal_type"] == "User"
        admin = next(g for g in now["grants"] if g["role"] == "Managed HSM Administrator")
        assert admin["status"] == "holds"
        assert admin["through"][-1] == "group Contoso Security Team [member]"
        assert now["can_obtain"] and now["can_obtain"][0].startswith("every data action at / on contoso")

    def test_explain_eligible_and_not_honoured(self, groups: Path) -> None:
        r = run_cli("explain", BOB, "--state", "live-with-groups.json", cwd=groups)
        assert "! can once activated" in r.stdout
        r = run_cli("explain", RUNNER, "--state", "live-with-groups.json", "--format", "json", cwd=groups)
        now = json.loads(r.stdout)["is_now"]
        status = {g["plane"]: g["status"] for g in now["grants"]}
        assert status == {"data": "not honoured", "management": "holds"}
        assert now["can_obtain"] == []

    def test_auditor_member_only_reads(self, groups: Path) -> None:
        r = run_cli(
            "whocan",
            "keys/read",
            "--hsm",
            "contoso",
            "--state",
            "live-with-groups.json",
            "--format",
            "json",
            cwd=groups,
        )
        holders = {p["principal_id"] for p in json.loads(r.stdout)["is_now"] if p["status"] == "holds"}
        assert CAROL in holders


class TestVaultEscalation:
    """Writers of a vault that uses access policies can give themselves any permission on it."""

    @pytest.fixture
    def contributor(self, tmp_path: Path) -> Path:
        text = (CONTOSO / "hsmsync.yaml").read_text()
        old = "      - {role: contoso-app-devops, scope: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG}\n"
        assert old in text
        new = (
            old
            + "      - {role: Key Vault Contributor, scope: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG}\n"
        )
        (tmp_path / "hsmsync.yaml").write_text(text.replace(old, new))
        return tmp_path

    def test_whocan_vault_lists_the_writer_as_able_to_obtain(self, contributor: Path) -> None:
        r = run_cli("whocan", "--vault", "contoso-kv", "keys/sign", "--format", "json", cwd=contributor)
        assert r.exit_code == 0, r.stderr
        body = json.loads(r.stdout)
        assert [p["principal"] for p in body["would_be"]] == ["app-vm"]
        assert [p["principal"] for p in body["would_be_can_obtain"]] == ["devops"]
        assert "set itself an access policy" in body["would_be_can_obtain"][0]["status"]

    def test_explain_names_the_vault_it_can_obtain(self, contributor: Path) -> None:
        r = run_cli("explain", "devops", "--format", "json", cwd=contributor)
        obtain = json.loads(r.stdout)["would_be"]["can_obtain"]
        assert obtain == [
            "any access-policy permission on vault contoso-kv, through Key Vault Contributor at "
            "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/ContosoAppRG: it can write "
            "the vault, so it can set itself an access policy"
        ]
        r = run_cli("explain", "app-vm", "--format", "json", cwd=contributor)
        assert json.loads(r.stdout)["would_be"]["can_obtain"] == []
