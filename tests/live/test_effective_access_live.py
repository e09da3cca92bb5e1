"""Effective access on the emulator path: the real live backend reads group members
(`/groups/{id}/transitiveMembers`) and PIM for Groups schedules from the emulator's Graph, and
whocan / explain answer as on the fake path (Contoso with nested groups, a PIM-eligible user and a
service principal in a group)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests

from hsmsync_emulator import Emulator, FaultConfig, start_emulator
from tests.conftest import CONTOSO, run_cli
from tests.e2e.test_live_resources import FAST
from tests.signin import sign_in_as, token_for

ALICE, BOB = "a1b2c3d4-0001-4a00-8000-00000000a11c", "a1b2c3d4-0002-4a00-8000-00000000b0b0"
RUNNER, SECURITY = "a1b2c3d4-0004-4a00-8000-0000000c1c1c", "6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11"
ONCALL = "4a6c8e0b-2d4f-4a6c-8e0b-2d4f6a8c0e11"
CAROL = "a1b2c3d4-0003-4a00-8000-00000000ca01"
LIVE = ("--live", "--endpoints", "endpoints.json")


@pytest.fixture
def groups(tmp_path: Path) -> Iterator[tuple[Path, Emulator]]:
    shutil.copy(CONTOSO / "live-with-groups.json", tmp_path / "emulated.json")
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    with start_emulator(tmp_path / "emulated.json", workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99")  # the pipeline (Administrator)
        yield tmp_path, emulator


def _graph(emu: Emulator, path: str) -> dict[str, object]:
    token = token_for(emu, ALICE, resource="https://graph.microsoft.com")
    r = requests.get(
        emu.arm_url + path,
        headers={"Authorization": f"Bearer {token}"},
        verify=str(emu.ca_cert_path),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, dict)
    return body


def test_emulator_serves_transitive_members_and_pim_schedules(groups: tuple[Path, Emulator]) -> None:
    _, emu = groups
    members = _graph(emu, f"/v1.0/groups/{SECURITY}/transitiveMembers")["value"]
    assert isinstance(members, list)
    ids = {m["id"]: m["@odata.type"] for m in members}
    assert ids == {
        ONCALL: "#microsoft.graph.group",
        ALICE: "#microsoft.graph.user",
        RUNNER: "#microsoft.graph.servicePrincipal",
    }  # Bob is eligible only: not a member until he activates
    eligible = _graph(
        emu,
        f"/v1.0/identityGovernance/privilegedAccess/group/eligibilitySchedules?$filter=groupId eq '{SECURITY}'",
    )["value"]
    assert isinstance(eligible, list)
    assert [(e["principalId"], e["accessId"]) for e in eligible] == [(BOB, "member")]
    assigned = _graph(
        emu,
        f"/v1.0/identityGovernance/privilegedAccess/group/assignmentSchedules?$filter=groupId eq '{SECURITY}'",
    )["value"]
    assert assigned == []


def test_whocan_live_matches_the_fake_path(groups: tuple[Path, Emulator]) -> None:
    folder, _ = groups
    live = run_cli("whocan", "sign", "--hsm", "contoso", *LIVE, "--format", "json", cwd=folder)
    assert live.exit_code == 0, live.stderr
    fake = run_cli(
        "whocan",
        "sign",
        "--hsm",
        "contoso",
        "--state",
        str(CONTOSO / "live-with-groups.json"),
        "--format",
        "json",
        cwd=folder,
    )

    def answer(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
        body = json.loads(text)
        return sorted(
            (p["principal_id"], p["status"], tuple(p["through"]))
            for p in [*body["is_now"], *body["is_now_can_obtain"]]
        )

    assert answer(live.stdout) == answer(fake.stdout)
    obtain = {p["principal_id"]: p for p in json.loads(live.stdout)["is_now_can_obtain"]}
    assert obtain[ALICE]["through"] == [
        "group Contoso HSM On-call [member]",
        "group Contoso Security Team [member]",
    ]
    assert obtain[BOB]["status"].endswith("once activated")
    assert RUNNER not in obtain


def test_explain_live_service_principal_group_membership_not_honoured(groups: tuple[Path, Emulator]) -> None:
    folder, _ = groups
    r = run_cli("explain", RUNNER, *LIVE, "--format", "json", cwd=folder)
    assert r.exit_code == 0, r.stderr
    now = json.loads(r.stdout)["is_now"]
    assert {g["plane"]: g["status"] for g in now["grants"]} == {"data": "not honoured", "management": "holds"}
    r = run_cli("explain", BOB, *LIVE, cwd=folder)
    assert "through group Contoso Security Team [eligible (PIM)]" in r.stdout
    assert "! can once activated" in r.stdout


def test_without_graph_whocan_live_is_an_error_not_a_partial_answer(groups: tuple[Path, Emulator]) -> None:
    folder, _ = groups
    endpoints = json.loads((folder / "endpoints.json").read_text())
    endpoints.pop("graph")
    (folder / "no-graph.json").write_text(json.dumps(endpoints))
    r = run_cli("whocan", "sign", "--hsm", "contoso", "--live", "--endpoints", "no-graph.json", cwd=folder)
    assert r.exit_code == 1
    assert "group members come from Microsoft Graph" in r.stderr
    assert "Traceback" not in r.stderr


def test_matrix_and_keys_live_read_graph_and_match_the_fake_path(groups: tuple[Path, Emulator]) -> None:
    """`matrix` and `keys` ask live state for the directory as whocan does: over the emulator's
    Graph they show the same group members, eligible members and obtainers as the state file."""
    folder, _ = groups
    fake = ("--state", str(CONTOSO / "live-with-groups.json"))
    for command in (
        ("matrix", "--format", "csv"),
        ("keys", "--at", "2026-12-01T00:00:00Z", "--format", "json"),
    ):
        live = run_cli(*command, *LIVE, cwd=folder)
        assert live.exit_code == 0, live.stderr
        on_file = run_cli(*command, *fake, cwd=folder)
        assert on_file.exit_code == 0, on_file.stderr
        if command[0] == "matrix":
            assert live.stdout == on_file.stdout
            assert "Alice (on-call engineer),User,assign roles,kept" in live.stdout
            assert "eligible (once activated) via group Contoso Security Team" in live.stdout
        else:
            [live_key], [file_key] = (json.loads(r.stdout)["keys"] for r in (live, on_file))
            for listed in ("users", "once_activated", "can_obtain"):
                assert live_key[listed] == file_key[listed], listed
            assert "Bob (security, just in time)" in {u["principal"] for u in live_key["can_obtain"]}


def test_a_group_cycle_on_graph_loses_no_member(tmp_path: Path) -> None:
    """Security Team and On-call each in the other (Graph lists each in the other's transitive
    members): Alice, in On-call, still holds what the Security Team holds, as on the fake path. The
    linking of Graph's transitive lists took every member of a group in a cycle as a member of the
    other group only, so nobody was left in either: whocan answered without Alice."""
    state = json.loads((CONTOSO / "live-with-groups.json").read_text())
    for o in state["directory"]:
        if o["id"] == SECURITY:
            o["member_of"] = [ONCALL]
    (tmp_path / "emulated.json").write_text(json.dumps(state))
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    with start_emulator(tmp_path / "emulated.json", workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99")
        r = run_cli("whocan", "sign", "--hsm", "contoso", *LIVE, "--format", "json", cwd=tmp_path)
    fake = run_cli(
        "whocan", "sign", "--hsm", "contoso", "--state", "emulated.json", "--format", "json", cwd=tmp_path
    )
    assert r.exit_code == 0 and fake.exit_code == 0, r.stderr + fake.stderr

    def who(text: str) -> set[str]:
        body = json.loads(text)
        return {p["principal_id"] for p in [*body["is_now"], *body["is_now_can_obtain"]]}

    assert ALICE in who(r.stdout) and who(r.stdout) == who(fake.stdout)


def test_pim_schedule_times_come_from_graph_and_are_judged_at_the_clock(tmp_path: Path) -> None:
    """Bob's eligibility starts at START and ends at END: Graph serves both times, and whocan
    --live counts Bob from the start until the end, as on the fake path."""
    start, end = "2026-12-05T00:00:00Z", "2026-12-10T00:00:00Z"
    state = json.loads((CONTOSO / "live-with-groups.json").read_text())
    for o in state["directory"]:
        if o["id"] == BOB:
            o["pim"] = [{"group": SECURITY, "status": "eligible", "start": start, "end": end}]
    (tmp_path / "emulated.json").write_text(json.dumps(state))
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    found: dict[str, bool] = {}
    with start_emulator(tmp_path / "emulated.json", workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99")
        path = f"/v1.0/identityGovernance/privilegedAccess/group/eligibilitySchedules?$filter=groupId eq '{SECURITY}'"
        schedules = _graph(emulator, path)["value"]
        assert isinstance(schedules, list)
        info = schedules[0]["scheduleInfo"]
        assert (info["startDateTime"], info["expiration"]["endDateTime"]) == (start, end)
        for when in ("2026-12-04T23:59:59Z", start, "2026-12-09T23:59:59Z", end):
            now = datetime.fromisoformat(when.replace("Z", "+00:00"))
            r = run_cli(
                "whocan", "sign", "--hsm", "contoso", *LIVE, "--format", "json", cwd=tmp_path, now=now
            )
            assert r.exit_code == 0, r.stderr
            found[when] = BOB in r.stdout
    assert found == {"2026-12-04T23:59:59Z": False, start: True, "2026-12-09T23:59:59Z": True, end: False}


def _security_team_gains_key_use(folder: Path) -> None:
    manifest = folder / "hsmsync.yaml"
    admin = "      - {hsm: contoso, role: Managed HSM Administrator, scope: /}\n  devops:"
    text = manifest.read_text()
    assert admin in text
    key_use = "      - {hsm: contoso, role: Crypto User, scope: /keys/app-signing}\n  devops:"
    manifest.write_text(text.replace(admin, admin.replace("\n  devops:", "\n" + key_use)))


def _gained(stdout: str) -> set[str]:
    return {p for g in json.loads(stdout)["access_delta"] if g["change"] == "gained" for p in g["principals"]}


def test_plan_live_names_group_members_from_graph_as_the_fake_path(groups: tuple[Path, Emulator]) -> None:
    """The plan's access delta names who gains through a group from Graph's members, as whocan
    --live and the state file's directory do."""
    folder, _ = groups
    _security_team_gains_key_use(folder)
    live = run_cli("plan", *LIVE, "--format", "json", cwd=folder)
    fake = run_cli("plan", "--state", "emulated.json", "--format", "json", cwd=folder)
    assert live.exit_code == 0 and fake.exit_code == 0, live.stderr + fake.stderr
    alice = "Alice (on-call engineer) (through Contoso HSM On-call -> Contoso Security Team)"
    assert alice in _gained(live.stdout)
    assert _gained(live.stdout) == _gained(fake.stdout)
    assert not [w for w in json.loads(live.stdout)["warnings"] if "Graph" in w]


def test_plan_live_without_graph_warns_that_group_access_is_not_shown(groups: tuple[Path, Emulator]) -> None:
    folder, _ = groups
    _security_team_gains_key_use(folder)
    endpoints = json.loads((folder / "endpoints.json").read_text())
    endpoints.pop("graph")
    (folder / "no-graph.json").write_text(json.dumps(endpoints))
    r = run_cli("plan", "--live", "--endpoints", "no-graph.json", "--format", "json", cwd=folder)
    assert r.exit_code == 0, r.stderr
    assert "Traceback" not in r.stderr
    body = json.loads(r.stdout)
    assert [w for w in body["warnings"] if "group members were not read from Microsoft Graph" in w] == [
        "group members were not read from Microsoft Graph (group members come from Microsoft Graph: the "
        "endpoints file names no `graph`): access through groups is not shown (grants to a group appear "
        "as held by the group alone)"
    ]
    assert _gained(r.stdout) == {"security-team"}  # the group alone: no member named
    text = run_cli("plan", "--live", "--endpoints", "no-graph.json", cwd=folder)
    assert text.exit_code == 0 and "access through groups is not shown" in text.stdout


def test_drift_live_without_graph_says_so_in_every_format(groups: tuple[Path, Emulator]) -> None:
    """drift reads Graph as plan does, and its lint verdict on unmanaged access uses the groups'
    members: a drift report that cannot read them must say so (it dropped the plan's warnings)."""
    folder, _ = groups
    _security_team_gains_key_use(folder)
    endpoints = json.loads((folder / "endpoints.json").read_text())
    endpoints.pop("graph")
    (folder / "no-graph.json").write_text(json.dumps(endpoints))
    notice = "group members were not read from Microsoft Graph"
    base = ("drift", "--live", "--endpoints", "no-graph.json")
    body = run_cli(*base, "--format", "json", cwd=folder)
    assert body.exit_code == 2, body.stderr  # drifted: the declared grant is missing
    assert [w for w in json.loads(body.stdout)["warnings"] if notice in w], body.stdout
    for fmt in ("text", "markdown"):
        r = run_cli(*base, "--format", fmt, cwd=folder)
        assert r.exit_code == 2 and notice in r.stdout and "access through groups is not shown" in r.stdout, (
            fmt
        )
    synced = run_cli("drift", *LIVE, "--format", "json", cwd=folder)
    assert json.loads(synced.stdout)["warnings"] == []  # Graph readable: nothing to warn about


@pytest.mark.slow
def test_plan_live_under_failing_graph_pages_names_every_member_or_warns(
    groups: tuple[Path, Emulator],
) -> None:
    """Graph (and everything else) answering one item a page, with 500s and 429s at random: each
    plan either names exactly who gains (as with no faults), or says that group members were not
    read, or fails with an error (exit 1): never a traceback, never a smaller access delta alone."""
    folder, emu = groups
    _security_team_gains_key_use(folder)
    whole = run_cli("plan", *LIVE, "--format", "json", cwd=folder)
    assert whole.exit_code == 0, whole.stderr
    expected = _gained(whole.stdout)
    outcomes = set()
    for seed in range(3):
        emu.set_faults(FaultConfig(throttle=0, page_size=1, rate_500=0.15, rate_429=0.15, seed=seed))
        r = run_cli("plan", *LIVE, "--format", "json", cwd=folder, environ=FAST)
        assert "Traceback" not in r.stderr and r.exit_code in (0, 1), (seed, r.exit_code, r.stderr)
        if r.exit_code == 1:
            assert "error: " in r.stderr, r.stderr
            outcomes.add("error")
            continue
        warned = [w for w in json.loads(r.stdout)["warnings"] if "group members were not read" in w]
        assert warned or _gained(r.stdout) == expected, (seed, _gained(r.stdout), expected)
        outcomes.add("warned" if warned else "whole")
    assert outcomes, outcomes  # with these seeds: some warned, some failed with an error


VAULT_READERS = "5b7d9f1a-3c5e-4a7c-9e1b-0d2f4a6c8e21"


def test_whocan_vault_live_expands_an_access_policy_group_from_graph(tmp_path: Path) -> None:
    """A group named only by contoso-kv's access policy (no role assignment anywhere): the live
    backend asks Graph for its members too, and whocan lists Carol through it, nested, as the
    state file says."""
    state = json.loads((CONTOSO / "live-with-groups.json").read_text())
    state["directory"].append({"id": VAULT_READERS, "type": "Group", "display_name": "Vault Readers"})
    auditors = next(o for o in state["directory"] if o["display_name"] == "Contoso App Auditors")
    auditors["member_of"] = [VAULT_READERS]  # Carol is in the auditors, now inside Vault Readers
    state["vaults"]["contoso-kv"]["access_policies"].append({"object_id": VAULT_READERS, "secrets": ["get"]})
    (tmp_path / "emulated.json").write_text(json.dumps(state))
    (tmp_path / "state.json").write_text(json.dumps(state))
    shutil.copy(CONTOSO / "hsmsync.yaml", tmp_path / "hsmsync.yaml")
    question = ("whocan", "--vault", "contoso-kv", "secrets/get", "--format", "json")
    with start_emulator(tmp_path / "emulated.json", workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator, "7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99")
        live = run_cli(*question, *LIVE, cwd=tmp_path)
    assert live.exit_code == 0, live.stderr
    fake = run_cli(*question, "--state", "state.json", cwd=tmp_path)
    paths = {p["principal_id"]: p for p in json.loads(live.stdout)["is_now"]}
    assert paths[CAROL]["through"] == ["group Contoso App Auditors [member]", "group Vault Readers [member]"]
    assert paths[CAROL]["status"] == "holds"
    assert json.loads(live.stdout)["is_now"] == json.loads(fake.stdout)["is_now"]
