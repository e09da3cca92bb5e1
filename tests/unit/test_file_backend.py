"""The fake state file: atomic writes under a lock; concurrent applies cannot duplicate."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

import pytest

from hsmsync.backends.file import FileStateBackend
from hsmsync.core.errors import StateError
from hsmsync.core.state import LiveState
from hsmsync_files.statefile import read_state_file, write_state_file
from tests.conftest import CONTOSO


def _apply_contoso(state_path: str) -> None:
    from hsmsync.applier import apply_plan
    from hsmsync.backends.registry import read_request_for
    from hsmsync.core.planner import plan_changes
    from hsmsync.manifest import load_manifest

    desired = load_manifest(CONTOSO / "hsmsync.yaml").desired
    backend = FileStateBackend(Path(state_path))
    plan = plan_changes(desired, backend.read_state(read_request_for(desired)))
    assert apply_plan(plan, backend).ok


def test_round_trip(tmp_path: Path):
    state = read_state_file(CONTOSO / "live-as-tutorial.json")
    write_state_file(tmp_path / "s.json", state)
    assert read_state_file(tmp_path / "s.json") == state


def test_failed_write_leaves_the_old_file_and_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "s.json"
    write_state_file(path, LiveState())
    before = path.read_text()

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(StateError, match="s.json: cannot write state file: disk full"):
        write_state_file(path, read_state_file(CONTOSO / "live-as-tutorial.json"))
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_invalid_json_is_a_state_error(tmp_path: Path):
    (tmp_path / "s.json").write_text("{not json")
    with pytest.raises(StateError, match="s.json: invalid state file"):
        read_state_file(tmp_path / "s.json")


def test_two_concurrent_applies_end_in_one_correct_state(tmp_path: Path):
    state = tmp_path / "state.json"
    shutil.copy(CONTOSO / "empty-state.json", state)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_apply_contoso, args=(str(state),)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    data = json.loads(state.read_text())
    assignments = data["hsms"]["contoso"]["role_assignments"]
    keys = [(a["scope"], a["role_definition_id"], a["principal_id"]) for a in assignments]
    assert len(keys) == len(set(keys)) == 7
    assert len(data["arm"]["role_assignments"]) == 2
