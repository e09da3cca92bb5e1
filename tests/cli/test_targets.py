"""`--target`: one CI job per HSM plans, applies and checks only its targets, as safely."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from hsmsync.backends.file import FileStateBackend
from hsmsync.backends.registry import read_request_for
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.planner import plan_changes
from hsmsync.core.shard import parse_selection, select_desired, select_plan
from hsmsync.core.target import ARM, Target
from hsmsync.manifest import load_manifest
from tests.conftest import run_cli

CONTOSO = Path(__file__).resolve().parents[2] / "examples" / "contoso"
FABRIKAM_RID = (
    "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/FabrikamRG/providers/"
    "Microsoft.KeyVault/managedHSMs/FabrikamMHSM"
)


def _fleet(directory: Path) -> Path:
    """Contoso plus a second HSM, fabrikam, with the same teams on it."""
    manifest = yaml.safe_load((CONTOSO / "hsmsync.yaml").read_text())
    hsm = copy.deepcopy(manifest["hsms"]["contoso"])
    hsm.update(url="https://fabrikammhsm.managedhsm.azure.net", resource_id=FABRIKAM_RID)
    manifest["hsms"]["fabrikam"] = hsm
    for team in manifest["teams"].values():
        built_in = [g for g in team.get("data", []) if g["role"] not in manifest["roles"]]  # roles: per HSM
        team["data"] = team.get("data", []) + [{**g, "hsm": "fabrikam"} for g in built_in]
    (directory / "hsmsync.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    state = json.loads((CONTOSO / "empty-state.json").read_text())
    live = copy.deepcopy(state["hsms"]["contoso"])
    live.update(url=hsm["url"], resource_id=FABRIKAM_RID)
    state["hsms"]["fabrikam"] = live
    (directory / "state.json").write_text(json.dumps(state))
    return directory / "hsmsync.yaml"


def _plan(directory: Path, targets: list[str]):
    loaded = load_manifest(directory / "hsmsync.yaml")
    desired = loaded.desired
    if targets:
        desired = select_desired(desired, parse_selection(targets, desired))
    live = FileStateBackend(directory / "state.json").read_state(read_request_for(desired))
    return plan_changes(desired, live)


@pytest.mark.parametrize(
    "targets",
    [["hsm:contoso"], ["hsm:fabrikam"], ["vault:contoso-kv"], ["arm"], ["hsm:fabrikam", "arm"]],
)
def test_a_sharded_plan_is_the_full_plans_changes_on_its_targets(tmp_path, targets):
    _fleet(tmp_path)
    full = _plan(tmp_path, [])
    sharded = _plan(tmp_path, targets)
    selection = parse_selection(targets, load_manifest(tmp_path / "hsmsync.yaml").desired)
    assert sharded.changes == select_plan(full, selection).changes
    assert sharded.unmanaged == select_plan(full, selection).unmanaged
    assert sharded.changes  # each shard has work to do: the comparison is not vacuous


def test_shards_together_are_the_full_plan(tmp_path):
    _fleet(tmp_path)
    full = _plan(tmp_path, [])
    shards = ["hsm:contoso", "hsm:fabrikam", "vault:contoso-kv", "arm"]
    together = [c for t in shards for c in _plan(tmp_path, [t]).changes]
    assert sorted(map(repr, together)) == sorted(map(repr, full.changes))


def test_an_unknown_target_is_an_error_with_a_suggestion(tmp_path):
    _fleet(tmp_path)
    result = run_cli("plan", "--state", "state.json", "--target", "hsm:fabrikan", cwd=tmp_path)
    assert result.exit_code == 1
    assert "--target 'hsm:fabrikan': no such target; did you mean 'hsm:fabrikam'?" in (result.stderr)
    bare = run_cli("drift", "--state", "state.json", "--target", "fabrikam", cwd=tmp_path)
    assert bare.exit_code == 1
    assert "did you mean 'hsm:fabrikam'?" in bare.stderr
    assert "Traceback" not in result.stderr + bare.stderr


def test_selection_parses_every_kind():
    desired = load_manifest(CONTOSO / "hsmsync.yaml").desired
    got = parse_selection(["hsm:contoso", "vault:contoso-kv", "arm"], desired)
    assert got == {Target.hsm("contoso"), Target.vault("contoso-kv"), ARM}
    with pytest.raises(HsmsyncError):
        parse_selection(["vault:contoso"], desired)


def test_apply_with_a_target_changes_only_that_hsm(tmp_path):
    _fleet(tmp_path)
    before = json.loads((tmp_path / "state.json").read_text())
    result = run_cli(
        "apply", "--state", "state.json", "--target", "hsm:fabrikam", "--auto-approve", cwd=tmp_path
    )
    assert result.exit_code == 0, result.stderr
    after = json.loads((tmp_path / "state.json").read_text())
    assert after["hsms"]["contoso"] == before["hsms"]["contoso"]
    assert after["arm"]["role_assignments"] == before["arm"]["role_assignments"]
    assert after["vaults"] == before["vaults"]
    assert after["hsms"]["fabrikam"] != before["hsms"]["fabrikam"]
    assert "(only hsm:fabrikam)" in result.stdout.splitlines()[0]  # the log says what the job covers
    again = run_cli(
        "plan", "--state", "state.json", "--target", "hsm:fabrikam", "--detailed-exitcode", cwd=tmp_path
    )
    assert again.exit_code == 0, again.stdout


def test_a_saved_plan_records_its_targets_and_other_targets_are_refused(tmp_path):
    _fleet(tmp_path)
    made = run_cli(
        "plan", "--state", "state.json", "--target", "hsm:fabrikam", "--out", "p.json", cwd=tmp_path
    )
    assert made.exit_code == 0, made.stderr
    assert json.loads((tmp_path / "p.json").read_text())["targets"] == ["hsm:fabrikam"]
    for other in (["--target", "hsm:contoso"], [], ["--target", "hsm:fabrikam", "--target", "arm"]):
        refused = run_cli("apply", "--state", "state.json", *other, "--auto-approve", "p.json", cwd=tmp_path)
        assert refused.exit_code == 1
        assert "it was made for --target hsm:fabrikam, this apply is for" in refused.stderr
    applied = run_cli(
        "apply", "--state", "state.json", "--target", "hsm:fabrikam", "--auto-approve", "p.json", cwd=tmp_path
    )
    assert applied.exit_code == 0, applied.stderr


def test_the_lockout_guard_still_guards_a_shard(tmp_path):
    _fleet(tmp_path)
    manifest = yaml.safe_load((tmp_path / "hsmsync.yaml").read_text())
    for team in manifest["teams"].values():  # nobody keeps Administrator on fabrikam
        team["data"] = [
            g
            for g in team.get("data", [])
            if not (g["hsm"] == "fabrikam" and g["role"] == "Managed HSM Administrator")
        ]
    manifest["hsms"]["fabrikam"]["prune_initial_admins"] = True
    (tmp_path / "hsmsync.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    result = run_cli(
        "apply", "--state", "state.json", "--target", "hsm:fabrikam", "--auto-approve", cwd=tmp_path
    )
    assert result.exit_code == 1
    assert "lockout guard" in result.stderr


def test_export_with_a_target_writes_only_that_target(tmp_path):
    _fleet(tmp_path)
    result = run_cli("export", "--state", "state.json", "--target", "hsm:fabrikam", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    exported = yaml.safe_load(result.stdout)
    assert list(exported["hsms"]) == ["fabrikam"]
    assert "vaults" not in exported
    assert all(not t.get("management") for t in exported.get("teams", {}).values())
    unknown = run_cli("export", "--state", "state.json", "--target", "vault:nope", cwd=tmp_path)
    assert unknown.exit_code == 1
    assert "--target 'vault:nope': no such target" in unknown.stderr
