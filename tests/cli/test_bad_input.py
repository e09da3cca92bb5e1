"""Malformed manifests: each exits 1 naming file, line and field; none prints a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

HEAD = """\
version: 1
principals:
  ops: {type: Group, id: 6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11}
  app: {type: ServicePrincipal, id: 8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44}
hsms:
  h1:
    url: https://h1.managedhsm.azure.net
    resource_id: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1
"""

CASES = [
    ("yaml-syntax", HEAD + "teams:\n  ops: {members: [ops\n", 11, "(document)", "invalid YAML"),
    ("duplicate-key", HEAD + "teams: {}\nteams: {}\n", 10, "teams", "duplicate key 'teams'"),
    ("unknown-top-field", HEAD + "team: {}\n", 9, "team", "unknown field 'team'; did you mean 'teams'?"),
    (
        "unknown-principal-field",
        HEAD.replace("{type: Group,", "{kind: Group, type: Group,"),
        3,
        "principals.ops.kind",
        "unknown field 'kind'",
    ),
    (
        "malformed-guid",
        HEAD.replace("8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44", "8c2f4a6e-1b3d-4e5f-a7c9"),
        4,
        "principals.app.id",
        "is not a GUID",
    ),
    (
        "bad-principal-type",
        HEAD.replace("type: Group", "type: Team"),
        3,
        "principals.ops.type",
        "'Team' is not allowed",
    ),
    (
        "undeclared-member",
        HEAD + "teams:\n  t:\n    members: [ops, opps]\n",
        11,
        "teams.t.members[1]",
        "undeclared principal 'opps'; declared: app, ops",
    ),
    (
        "unknown-role",
        HEAD + "teams:\n  t:\n    members: [ops]\n    data:\n      - {hsm: h1, role: Crypto Usr}\n",
        13,
        "teams.t.data[0].role",
        "did you mean",
    ),
    (
        "unknown-hsm",
        HEAD + "teams:\n  t:\n    members: [ops]\n    data:\n      - {hsm: h2, role: Crypto User}\n",
        13,
        "teams.t.data[0].hsm",
        "unknown HSM 'h2'; declared: h1",
    ),
    (
        "bad-data-scope",
        HEAD
        + "teams:\n  t:\n    members: [ops]\n    data:\n      - {hsm: h1, role: Crypto User, scope: /secrets/x}\n",
        13,
        "teams.t.data[0].scope",
        "is not a Managed HSM scope",
    ),
    (
        "bad-arm-scope",
        HEAD
        + "teams:\n  t:\n    members: [ops]\n    management:\n      - {role: Reader, scope: /resourceGroups/rg}\n",
        13,
        "teams.t.management[0].scope",
        "is not an ARM scope",
    ),
    (
        "duplicate-assignment",
        HEAD
        + "teams:\n  t:\n    members: [ops]\n    data:\n      - {hsm: h1, role: Crypto User}\n"
        + "      - {hsm: h1, role: crypto user, scope: /}\n",
        14,
        "teams.t.data[1]",
        "duplicate assignment",
    ),
    ("wrong-version", HEAD.replace("version: 1", "version: 2"), 1, "version", "'2' is not allowed"),
    ("missing-version", HEAD.replace("version: 1\n", ""), 1, "version", "required field is missing"),
    # Finding 14: lax validation read these as 1.
    (
        "version-true",
        HEAD.replace("version: 1", "version: true"),
        1,
        "version",
        "must be the integer 1, not True",
    ),
    (
        "version-float",
        HEAD.replace("version: 1", "version: 1.0"),
        1,
        "version",
        "must be the integer 1, not 1.0",
    ),
    (
        "unknown-data-action",
        HEAD + "roles:\n  r:\n    hsm: h1\n    name: R\n    data_actions: [keys/sgn/action]\n",
        13,
        "roles.r.data_actions[0]",
        "unknown data action 'keys/sgn/action'; did you mean",
    ),
    (
        "custom-role-unknown-hsm",
        HEAD + "roles:\n  r:\n    hsm: nope\n    name: R\n    data_actions: [keys/sign/action]\n",
        11,
        "roles.r.hsm",
        "unknown HSM 'nope'",
    ),
    (
        "http-url",
        HEAD.replace("https://h1", "http://h1"),
        7,
        "hsms.h1.url",
        "does not have the expected form",
    ),
    ("not-a-mapping", "- version: 1\n", 1, "(document)", "must be a mapping"),
    ("empty-file", "", 1, "(document)", "must be a mapping"),
    (
        "builtin-name-for-custom-role",
        HEAD
        + "roles:\n  r:\n    hsm: h1\n    name: Managed HSM Crypto User\n    data_actions: [keys/sign/action]\n",
        12,
        "roles.r.name",
        "is the name of a built-in role",
    ),
    ("list-where-mapping-expected", HEAD + "teams: [ops]\n", 9, "teams", "valid dictionary"),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_manifest_exits_1_with_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, message: str
):
    (tmp_path / "hsmsync.yaml").write_text(text)
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 1, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert f"hsmsync.yaml:{line}: {field}" in result.stderr
    assert message in result.stderr


def test_duplicate_principal_id_names_the_first_holder(tmp_path: Path):
    (tmp_path / "hsmsync.yaml").write_text(
        HEAD.replace("8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44", "6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11")
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 1
    assert (
        "hsmsync.yaml:4: principals.app.id: id 6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11 is already used by principal 'ops'"
        in result.stderr
    )


@pytest.mark.parametrize("padding", ["\u00a0", " ", "\u3000", "\t"])
def test_an_id_with_whitespace_is_refused_not_trimmed(tmp_path: Path, padding: str):
    # Trimmed, "<id>\u00a0" became another string than the manifest shows: refuse it instead.
    guid = "8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44"
    (tmp_path / "hsmsync.yaml").write_text(HEAD.replace(guid, f"'{guid}{padding}'"), encoding="utf-8")
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 1, result.stdout
    assert "hsmsync.yaml:4: principals.app.id:" in result.stderr and "is not a GUID" in result.stderr


def test_all_problems_are_reported_at_once(tmp_path: Path):
    text = HEAD + "teams:\n  t:\n    members: [nobody]\n    data:\n      - {hsm: h9, role: Crypto User}\n"
    (tmp_path / "hsmsync.yaml").write_text(text)
    result = run_cli("validate", cwd=tmp_path)
    assert "members[0]" in result.stderr and "data[0].hsm" in result.stderr


def test_missing_manifest_is_a_clear_error(tmp_path: Path):
    result = run_cli("plan", "--state", "s.json", cwd=tmp_path)
    assert result.exit_code == 1
    assert "hsmsync.yaml: manifest not found" in result.stderr


def test_bad_state_file_names_file_and_field(tmp_path: Path):
    (tmp_path / "hsmsync.yaml").write_text(HEAD)
    (tmp_path / "s.json").write_text('{"version": 1, "hsms": {"h1": {"url": 5}}}')
    result = run_cli("plan", "--state", "s.json", cwd=tmp_path)
    assert result.exit_code == 1
    assert "s.json: invalid state file at hsms.h1.url" in result.stderr
    assert "Traceback" not in result.stderr


def test_principal_without_id_is_reported_once_with_the_resolve_hint(tmp_path: Path):
    text = HEADER_NO_ID + "teams:\n  t:\n    members: [ops]\n"
    (tmp_path / "hsmsync.yaml").write_text(text)
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 1
    assert "principal 'ops' has no id; run `hsmsync resolve` to look it up by name" in result.stderr
    assert "undeclared" not in result.stderr


HEADER_NO_ID = HEAD.replace(
    "ops: {type: Group, id: 6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11}",
    "ops: {type: Group, name: Ops, upn: ops@x}",
)
