"""`-f DIR`: a manifest split into one file per team, merged; errors name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hsmsync.core.errors import ManifestError
from hsmsync.manifest import load_manifest
from tests.conftest import run_cli

CONTOSO = Path(__file__).resolve().parents[2] / "examples" / "contoso"


def _split(directory: Path) -> Path:
    """The Contoso manifest as a shared file plus one file per team."""
    data = yaml.safe_load((CONTOSO / "hsmsync.yaml").read_text())
    teams = data.pop("teams")
    d = directory / "manifests"
    d.mkdir()
    (d / "00-shared.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    for name, team in teams.items():
        (d / f"team-{name}.yml").write_text(yaml.safe_dump({"version": 1, "teams": {name: team}}))
    (d / "notes.txt").write_text("not a manifest")
    return d


def test_a_directory_merges_to_the_same_desired_state_as_one_file(tmp_path):
    d = _split(tmp_path)
    one = load_manifest(CONTOSO / "hsmsync.yaml")
    merged = load_manifest(d, display=Path("manifests"))
    assert merged.manifest == one.manifest
    assert merged.desired == one.desired
    assert merged.path == Path("manifests")


def test_the_same_name_in_two_files_names_both_files_and_lines(tmp_path):
    d = _split(tmp_path)
    (d / "team-extra.yaml").write_text("teams:\n  auditors:\n    members: [auditors]\n")
    with pytest.raises(ManifestError) as exc:
        load_manifest(d, display=Path("m"))
    assert str(exc.value) == (
        "m/team-extra.yaml:2: teams.auditors: teams 'auditors' is also declared at m/team-auditors.yml:2"
    )


def test_settings_must_agree_across_files(tmp_path):
    d = _split(tmp_path)
    (d / "team-odd.yaml").write_text("\n\nversion: 2\n")
    with pytest.raises(ManifestError) as exc:
        load_manifest(d, display=Path("m"))
    assert str(exc.value) == (
        "m/team-odd.yaml:3: version: 'version' is also given at m/00-shared.yaml:1 with another value: "
        "it applies to the whole manifest, so give it in one file, or the same in each"
    )


def test_errors_after_merging_name_the_file_and_line_they_are_in(tmp_path):
    d = _split(tmp_path)
    (d / "team-rotation.yml").write_text(
        "teams:\n  rotation:\n    members: [nobody-declared]\n    data: []\n"
    )
    result = run_cli("validate", "-f", "manifests", cwd=tmp_path)
    assert result.exit_code == 1
    assert "manifests/team-rotation.yml:3:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_case_only_collision_across_files_names_both(tmp_path):
    d = _split(tmp_path)
    (d / "zz.yaml").write_text("teams:\n  Auditors:\n    members: [auditors]\n")
    with pytest.raises(ManifestError) as exc:
        load_manifest(d, display=Path("m"))
    assert "m/zz.yaml:2: teams.Auditors: duplicate name 'Auditors'" in str(exc.value)
    assert "at m/team-auditors.yml:2" in str(exc.value)


def test_yaml_errors_in_several_files_are_all_reported_with_their_file(tmp_path):
    d = _split(tmp_path)
    (d / "a-bad.yaml").write_text("teams: [\n")
    (d / "b-bad.yaml").write_text("teams:\n  x: 1\n  x: 2\n")
    with pytest.raises(ManifestError) as exc:
        load_manifest(d, display=Path("m"))
    assert "m/a-bad.yaml:" in str(exc.value)
    assert "m/b-bad.yaml:3: teams.x: duplicate key 'x' (first at line 2)" in str(exc.value)


def test_an_empty_directory_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("plan", "-f", "empty", "--state", "s.json", cwd=tmp_path)
    assert result.exit_code == 1
    assert "empty: no manifest files (*.yaml, *.yml) in this directory" in result.stderr


def test_editing_any_file_of_the_directory_refuses_a_saved_plan(tmp_path):
    d = _split(tmp_path)
    (tmp_path / "state.json").write_text((CONTOSO / "empty-state.json").read_text())
    for victim in sorted(p.name for p in d.iterdir() if p.suffix in (".yaml", ".yml")):
        made = run_cli("plan", "-f", "manifests", "--state", "state.json", "--out", "p.json", cwd=tmp_path)
        assert made.exit_code == 0, made.stderr
        path = d / victim
        original = path.read_text()
        path.write_text(original + "\n# reviewed\n")
        refused = run_cli(
            "apply", "-f", "manifests", "--state", "state.json", "--auto-approve", "p.json", cwd=tmp_path
        )
        assert refused.exit_code == 1, victim
        assert "refusing to apply this saved plan" in refused.stderr
        path.write_text(original)
    digest = json.loads((tmp_path / "p.json").read_text())["manifest"]["sha256"]
    (d / "new-team.yaml").write_text("")
    assert load_manifest(d).digest != digest  # an added file counts too


def test_a_saved_plan_from_the_unchanged_directory_applies(tmp_path):
    _split(tmp_path)
    (tmp_path / "state.json").write_text((CONTOSO / "empty-state.json").read_text())
    made = run_cli("plan", "-f", "manifests", "--state", "state.json", "--out", "p.json", cwd=tmp_path)
    assert made.exit_code == 0, made.stderr
    applied = run_cli(
        "apply", "-f", "manifests", "--state", "state.json", "--auto-approve", "p.json", cwd=tmp_path
    )
    assert applied.exit_code == 0, applied.stderr


def test_lint_findings_name_the_team_file_they_are_in(tmp_path):
    _split(tmp_path)
    text = run_cli("lint", "-f", "manifests", cwd=tmp_path)
    assert "manifests/team-application.yml:" in text.stdout  # HSM003: app-vm at /
    assert "manifests/team-storage.yml:" in text.stdout
    sarif = json.loads(
        run_cli("lint", "-f", "manifests", "--format", "sarif", "--sarif-root", ".", cwd=tmp_path).stdout
    )
    run = sarif["runs"][0]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    # HSM012 (the vault on access policies) points at the shared file that declares the vault
    assert uris == {
        "manifests/team-application.yml",
        "manifests/team-storage.yml",
        "manifests/00-shared.yaml",
    }
    assert {a["location"]["uri"] for a in run["artifacts"]} == uris
    findings = json.loads(run_cli("lint", "-f", "manifests", "--format", "json", cwd=tmp_path).stdout)[
        "findings"
    ]
    assert {f["file"] for f in findings} == uris
    annotated = run_cli(
        "lint", "-f", "manifests", "--sarif-root", ".", cwd=tmp_path, environ={"GITHUB_ACTIONS": "true"}
    )
    assert "::warning file=manifests/team-storage.yml,line=" in annotated.stderr


def test_resolve_names_the_directory_and_says_to_run_it_per_file(tmp_path):
    _split(tmp_path)
    result = run_cli("resolve", "-f", "manifests", "--check", cwd=tmp_path)
    assert result.exit_code == 1
    assert (
        "manifests: is a directory; this command edits one manifest file: run it on each file"
        in result.stderr
    )
    assert run_cli("resolve", "-f", "manifests/team-storage.yml", "--check", cwd=tmp_path).exit_code == 0


@pytest.mark.parametrize(
    "argv",
    [
        ("validate", "--format", "json"),
        ("whocan", "--hsm", "contoso", "sign"),
        ("explain", "app-vm"),
        ("export", "--state", "state.json"),
        ("drift", "--state", "state.json", "--target", "hsm:contoso"),
    ],
)
def test_every_reading_command_takes_the_directory(tmp_path, argv):
    _split(tmp_path)
    (tmp_path / "state.json").write_text((CONTOSO / "empty-state.json").read_text())
    one = run_cli(*argv, "-f", str(CONTOSO / "hsmsync.yaml"), cwd=tmp_path)
    merged = run_cli(*argv, "-f", "manifests", cwd=tmp_path)
    assert merged.exit_code == one.exit_code, merged.stderr
    assert merged.exit_code in (0, 2), merged.stderr
    if argv[0] != "validate":  # validate names the file it read
        assert merged.stdout == one.stdout
