"""`--target` narrows while reading (issue 16): a shard reads and compiles only its own HSMs' team
`data` entries, so its time and memory follow its shard, not the fleet, and what it plans is the
full plan's part for those HSMs, with every location still the document's."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsmsync.core.errors import HsmsyncError, ManifestError
from hsmsync.core.planner import plan_changes
from hsmsync.core.shard import parse_selection, select_desired, select_plan
from hsmsync.manifest import load_manifest
from tests.reliability.fleet import Fleet

FLEET = Fleet(hsms=4, keys=6, wide=3, keyed=3, per_key=2, missing=3, stray=2, prune_every=2)
TARGETS = [*(f"hsm:{name}" for name in FLEET.hsm_names()), "arm"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "hsmsync.yaml"
    path.write_text(FLEET.manifest(), encoding="utf-8")
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=len(TARGETS)))
def test_a_targeted_read_is_the_full_manifest_narrowed(manifest: Path, targets: list[str]) -> None:
    full = load_manifest(manifest)
    narrowed = load_manifest(manifest, targets=targets)
    selection = parse_selection(targets, full.desired)
    # The same desired state, every assignment located at the document's own entry ...
    assert narrowed.desired == select_desired(full.desired, selection)
    assert narrowed.targets == tuple(sorted(set(targets), key=TARGETS.index))
    # ... so the same plan as the full plan's changes on those targets.
    live = FLEET.live()
    assert (
        plan_changes(narrowed.desired, live).changes
        == select_plan(plan_changes(full.desired, live), selection).changes
    )


def test_a_shard_reads_only_its_own_hsms_entries(manifest: Path) -> None:
    narrowed = load_manifest(manifest, targets=["hsm:hsm02"])
    read = [d.hsm for team in narrowed.manifest.teams.values() for d in team.data]
    assert read and set(read) == {"hsm02"}
    assert set(narrowed.manifest.hsms) == set(FLEET.hsm_names())  # every HSM stays declared


def _peak_of(load: object) -> int:
    tracemalloc.start()
    try:
        assert callable(load)
        load()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_shards_memory_follows_its_shard_not_the_fleet(tmp_path: Path) -> None:
    path = tmp_path / "hsmsync.yaml"
    fleet = Fleet(hsms=8, keys=20, keyed=10, per_key=4)
    path.write_text(fleet.manifest(), encoding="utf-8")
    load_manifest(path)  # warm the caches (role catalogs) before measuring
    whole = _peak_of(lambda: load_manifest(path))
    one = _peak_of(lambda: load_manifest(path, targets=["hsm:hsm07"]))
    # An eighth of the entries (0.38x here, the text itself and the principals are read whole);
    # reading everything first and narrowing after peaked at the whole read.
    assert one < 0.5 * whole


def test_an_entry_on_an_undeclared_hsm_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "hsmsync.yaml"
    text = FLEET.manifest().replace("- {hsm: hsm03, role: Crypto User", "- {hsm: hsm3, role: Crypto User", 1)
    path.write_text(text, encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if "hsm: hsm3," in t)
    with pytest.raises(ManifestError) as err:
        load_manifest(path, targets=["hsm:hsm00"])
    assert f"hsmsync.yaml:{line}: teams." in str(err.value) and "unknown HSM 'hsm3'" in str(err.value)


def test_an_error_in_a_read_entry_names_the_documents_line_and_index(tmp_path: Path) -> None:
    path = tmp_path / "hsmsync.yaml"
    text = FLEET.manifest()
    lines = text.splitlines()
    bad = next(i for i, t in enumerate(lines) if "{hsm: hsm02, role: Crypto User, scope: /}" in t)
    lines[bad] = lines[bad].replace("scope: /}", "scope: /nowhere}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    team_start = max(i for i in range(bad) if lines[i].startswith("  t-"))
    index = bad - team_start - 3  # the team's key, members and `data:` lines come first
    team = lines[team_start].strip().rstrip(":")
    with pytest.raises(ManifestError) as err:
        load_manifest(path, targets=["hsm:hsm02"])
    assert f"hsmsync.yaml:{bad + 1}: teams.{team}.data[{index}].scope:" in str(err.value)


def test_a_target_no_manifest_declares_is_refused_with_the_closest(manifest: Path) -> None:
    with pytest.raises(HsmsyncError, match=r"--target 'hsm:hsm2': no such target; did you mean 'hsm:hsm02'"):
        load_manifest(manifest, targets=["hsm:hsm01", "hsm:hsm2"])


def test_a_directory_manifest_is_narrowed_the_same_way(manifest: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    teams = data.pop("teams")
    directory = tmp_path / "manifests"
    directory.mkdir()
    (directory / "00-shared.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for name, team in teams.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump({"version": 1, "teams": {name: team}}))
    targets = ["hsm:hsm01", "hsm:hsm03"]
    narrowed = load_manifest(directory, targets=targets)
    full = load_manifest(manifest)
    assert narrowed.desired == select_desired(full.desired, parse_selection(targets, full.desired))
    assert {d.hsm for team in narrowed.manifest.teams.values() for d in team.data} == {"hsm01", "hsm03"}
