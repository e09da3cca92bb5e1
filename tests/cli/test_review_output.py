"""Issue 12, review output: `show PLAN`, the JSON contract (format_version, schemas) and the same
facts in every renderer."""

from __future__ import annotations

import html as htmllib
import json
import socket
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hsmsync import __version__
from hsmsync.core.plan import Action, Kind
from hsmsync.core.plan_io import plan_from_dict
from hsmsync.core.state import ArmRoleDefinition, RoleDefinition
from hsmsync.output_schemas import output_schema
from hsmsync.render.escape import md, visible
from hsmsync.render.labels import change_details, subject
from tests.cli.test_hostile_outputs import HOSTILE
from tests.conftest import REPO, run_cli


def _refuse(*_a: object, **_k: object) -> None:
    raise AssertionError("show opened a backend or a connection")


def _cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any backend or socket use fails the test: `show` needs neither."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr("hsmsync.backends.registry.open_backend", _refuse)
    monkeypatch.setattr("hsmsync.workflow.open_backend", _refuse)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    _cut_off(monkeypatch)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_show_renders_a_saved_plan_as_plan_did_without_any_backend(contoso: Path, fmt: str):
    plan = run_cli(
        "plan", "--state", "live-as-tutorial.json", "--format", fmt, "--out", "p.json", cwd=contoso
    )
    assert plan.exit_code == 0, plan.stderr
    (contoso / "live-as-tutorial.json").unlink()  # nothing left to read live state from
    with pytest.MonkeyPatch.context() as monkeypatch:
        _cut_off(monkeypatch)
        shown = run_cli("show", "p.json", "--format", fmt, cwd=contoso)
    assert shown.exit_code == 0, shown.stderr
    # the same plan, access delta and details; only the header (and lint, which needs the
    # manifest) differ
    header = {
        "text": "hsmsync plan against",
        "json": '"backend"',
        "markdown": "Against:",
        "html": "<p>Against:",
    }
    if fmt == "json":
        a, b = json.loads(plan.stdout), json.loads(shown.stdout)
        for key in ("changes", "unmanaged", "summary", "access_delta", "warnings", "live_fingerprint"):
            assert a[key] == b[key], key
        return
    lint_lines = ("HSM003", "HSM012")
    planned = [
        ln
        for ln in plan.stdout.splitlines()
        if header[fmt] not in ln and not any(r in ln for r in lint_lines)
    ]
    planned = [ln for ln in planned if "Lint" not in ln and ln]
    assert [ln for ln in shown.stdout.splitlines() if header[fmt] not in ln and ln] == planned


def test_show_never_opens_a_backend(contoso: Path, no_network: None):
    Path(contoso / "p.json").write_text(
        (REPO / "tests" / "golden" / "contoso-live-as-tutorial.plan.json").read_text()
    )
    # a plan JSON that is not a saved plan (no snapshot) is a clear error, not a backend call
    result = run_cli("show", "p.json", cwd=contoso)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: p.json: ") and "Traceback" not in result.stderr


def _drop_a_live_assignment(text: str) -> str:
    data = json.loads(text)
    data["live_snapshot"]["hsms"]["contoso"]["role_assignments"].pop()
    return json.dumps(data)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda t: t[: len(t) // 2], "malformed saved plan:\n  (document): Invalid JSON"),
        (lambda t: "[]", "malformed saved plan:\n  (document): Input should be an object"),
        (lambda t: t.replace('"action": "create"', '"action": "explode"', 1), "changes[0].action"),
        (lambda t: t.replace('"principal_id": "', '"principal_id": "0', 1), "principal_id"),
        (_drop_a_live_assignment, "was edited"),
    ],
    ids=["truncated", "not-an-object", "bad-action", "bad-principal-id", "tampered-snapshot"],
)
def test_show_refuses_a_malformed_or_tampered_plan(contoso: Path, edit, says: str):
    assert run_cli("plan", "--state", "live-as-tutorial.json", "--out", "p.json", cwd=contoso).exit_code == 0
    saved = contoso / "p.json"
    saved.write_text(edit(saved.read_text()))
    result = run_cli("show", "p.json", cwd=contoso)
    assert result.exit_code == 1, result.stdout
    assert "p.json" in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def _contract(doc: dict[str, Any], kind: str) -> None:
    assert doc["format_version"] == 1 and doc["hsmsync_version"] == __version__ and doc["kind"] == kind
    assert list(doc)[:3] == ["format_version", "hsmsync_version", "kind"]  # the document starts with them
    jsonschema.Draft202012Validator(output_schema(kind)).validate(doc)


@pytest.mark.parametrize("state", ["empty-state.json", "live-as-tutorial.json"])
def test_json_outputs_carry_the_contract_and_validate_against_their_schemas(contoso: Path, state: str):
    plan = json.loads(run_cli("plan", "--state", state, "--format", "json", cwd=contoso).stdout)
    _contract(plan, "plan")
    assert plan["access_delta"] and all(
        {"principals", "ability", "places"} <= g.keys() for g in plan["access_delta"]
    )
    assert plan["lint"]["findings"][0]["rule"] == "HSM003" and plan["lint"]["summary"]["warning"] == 3
    drift = run_cli("drift", "--state", state, "--format", "json", cwd=contoso)
    _contract(json.loads(drift.stdout), "drift")
    lint = run_cli("lint", "--format", "json", cwd=contoso)
    _contract(json.loads(lint.stdout), "lint")


JSON_COMMANDS = {
    "plan": ("plan", "--state", "state.json"),
    "drift": ("drift", "--state", "state.json"),
    "lint": ("lint",),
    "validate": ("validate",),
    "apply": ("apply", "--state", "state.json", "--auto-approve"),
    "whocan": ("whocan", "--hsm", "contoso", "sign"),
    "explain": ("explain", "app-vm"),
    "show": ("show", "p.json"),
}


@pytest.mark.parametrize("command", sorted(JSON_COMMANDS))
def test_every_json_document_starts_with_the_envelope(contoso: Path, command: str):
    # Finding 13b: keys were sorted at the top level too, so documents started with e.g. `access_delta`.
    assert run_cli("plan", "--state", "state.json", "--out", "p.json", cwd=contoso).exit_code == 0
    result = run_cli(*JSON_COMMANDS[command], "--format", "json", cwd=contoso)
    assert result.stdout.startswith('{\n  "format_version": 1,\n  "hsmsync_version": '), result.stderr
    doc = json.loads(result.stdout)
    assert list(doc)[:3] == ["format_version", "hsmsync_version", "kind"]
    assert doc["kind"] == ("plan" if command == "show" else command)


def test_hostile_outputs_validate_too(tmp_path: Path):
    for f in HOSTILE.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    _contract(
        json.loads(run_cli("plan", "--state", "live.json", "--format", "json", cwd=tmp_path).stdout), "plan"
    )
    drift = run_cli("drift", "--state", "live.json", "--format", "json", cwd=tmp_path).stdout
    _contract(json.loads(drift), "drift")


def test_published_output_schemas_are_current():
    for kind in ("plan", "drift", "lint"):
        on_disk = json.loads((REPO / "schemas" / f"{kind}.schema.json").read_text())
        assert on_disk == output_schema(kind), (
            f"schemas/{kind}.schema.json is out of date: run `make schemas`"
        )


@pytest.mark.parametrize("state", ["empty-state.json", "live-as-tutorial.json"])
def test_every_renderer_shows_the_same_facts(contoso: Path, state: str):
    """Each change's label and details (a role's permission blocks, a policy's lists, the field that
    differs) appear in text, markdown and HTML, each escaped its way; JSON holds the same actions."""
    outputs = {
        fmt: run_cli("plan", "--state", state, "--format", fmt, cwd=contoso).stdout
        for fmt in ("text", "markdown", "html", "json")
    }
    data = json.loads(outputs["json"])
    plan = plan_from_dict(data)
    escapes = {"text": visible, "markdown": md, "html": lambda s: htmllib.escape(visible(s), quote=True)}
    checked = 0
    for c in plan.changes:
        for fmt, esc in escapes.items():
            for fact in change_details(c):
                assert esc(fact) in outputs[fmt], (fmt, c.id, fact)
                checked += 1
            if c.kind is Kind.ROLE_DEFINITION:
                label = "Azure role definition" if c.plane.value == "management" else "role definition"
                assert esc(label) in outputs[fmt]
        if c.kind is Kind.ROLE_DEFINITION and c.action is Action.CREATE:
            assert change_details(c), f"{subject(c)} shows no actions"
            role = c.payload or c.definition
            assert isinstance(role, RoleDefinition | ArmRoleDefinition), c.id
            listed = json.dumps([d for d in data["changes"] if d["id"] == c.id])
            for block in role.permissions:
                assert all(a in listed for a in (*block.actions, *block.data_actions))
    assert checked > 10


def test_drift_names_the_field_that_differs(contoso: Path):
    for fmt in ("text", "markdown"):
        out = run_cli("drift", "--state", "live-as-tutorial.json", "--format", fmt, cwd=contoso).stdout
        assert (
            "~ contoso: HSM settings: purge_protection: False -> True; public_network_access: Enabled" in out
        )
        assert "+ contoso: role definition 'Contoso Key Rotator'" in out


def test_validate_takes_format_json(contoso: Path):
    ok = run_cli("validate", "--format", "json", cwd=contoso)
    doc = json.loads(ok.stdout)
    assert ok.exit_code == 0 and doc["kind"] == "validate" and doc["valid"] is True
    assert doc["files"] == [
        {"file": "hsmsync.yaml", "valid": True, "principals": 7, "hsms": 1, "assignments": 9}
    ]
    (contoso / "bad.yaml").write_text("version: 1\nbogus: 2\n")
    bad = run_cli("validate", "-f", "bad.yaml", "--format", "json", cwd=contoso)
    doc = json.loads(bad.stdout)
    assert bad.exit_code == 1 and doc["valid"] is False and doc["format_version"] == 1
    assert doc["files"][0]["errors"] == [
        {"file": "bad.yaml", "line": 2, "message": "bogus: unknown field 'bogus'"}
    ]


def test_apply_takes_format_json_and_keeps_stdout_for_it(contoso: Path):
    result = run_cli("apply", "--state", "state.json", "--auto-approve", "--format", "json", cwd=contoso)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # stdout is one JSON document; the text plan went to stderr
    assert doc["kind"] == "apply" and doc["ok"] is True and doc["hsmsync_version"] == __version__
    assert doc["summary"]["applied"] == len(doc["results"]) == 14
    assert {r["status"] for r in doc["results"]} == {"applied"}
    assert "Plan: 13 to create" in result.stderr
    again = json.loads(run_cli("apply", "--state", "state.json", "--format", "json", cwd=contoso).stdout)
    assert again["ok"] is True and again["results"] == []  # nothing left to do: no prompt needed


def test_whocan_and_explain_take_format_json(contoso: Path):
    args = ("--hsm", "contoso", "sign", "--state", "live-as-tutorial.json", "--format", "json")
    doc = json.loads(run_cli("whocan", *args, cwd=contoso).stdout)
    assert doc["kind"] == "whocan" and doc["question"] == "keys/sign/action on contoso (any key or scope)"
    assert [p["principal"] for p in doc["would_be"]] == ["app-vm"] and doc["is_now"] == []
    doc = json.loads(run_cli("explain", "app-vm", "--format", "json", cwd=contoso).stdout)
    assert doc["kind"] == "explain" and doc["is_now"] is None
    grant = doc["would_be"]["grants"][0]
    assert (
        grant["role"] == "Managed HSM Crypto User"
        and grant["scope"] == "/"
        and grant["via"] == "team application"
    )
    assert "Microsoft.KeyVault/managedHsm/keys/sign/action" in grant["data_actions"]
    policy = doc["would_be"]["policies"][0]["permissions"]
    assert policy == {"keys": ["sign"], "secrets": ["get"], "certificates": [], "storage": []}


@pytest.mark.slow
def test_a_12_hsm_fleet_plan_comment_stays_under_the_budget(tmp_path: Path):
    """The real path (manifest -> plan -> markdown) for a fleet whose full plan is far over it."""
    from tests.reliability.fleet import Fleet

    fleet = Fleet(hsms=12, keys=40, wide=24, keyed=30, per_key=4, missing=150, stray=30)
    fleet.write(tmp_path)
    result = run_cli("plan", "--state", "state.json", "--format", "markdown", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout) <= 60_000
    full = run_cli("plan", "--state", "state.json", "--format", "json", cwd=tmp_path)
    assert json.loads(full.stdout)["summary"]["total"] == 12 * 180
    assert "**Not shown here**" in result.stdout and "`hsmsync plan --format html|json`" in result.stdout
    # 120 per-key Crypto User grants per HSM, yet the access delta is a handful of lines
    access = [ln for ln in result.stdout.splitlines() if ln.startswith("| can ")]
    assert 0 < len(access) < 40


def _edited_roles(contoso: Path) -> None:
    """Live custom roles that moved away from the manifest: the HSM role gained sign, the Azure
    role lost an action."""
    assert run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso).exit_code == 0
    state = json.loads((contoso / "state.json").read_text())
    (hsm_role,) = state["hsms"]["contoso"]["role_definitions"]
    hsm_role["permissions"][0]["data_actions"].append("Microsoft.KeyVault/managedHsm/keys/sign/action")
    (arm_role,) = state["arm"]["role_definitions"]
    arm_role["permissions"][0]["actions"].remove("Microsoft.KeyVault/vaults/deploy/action")
    (contoso / "state.json").write_text(json.dumps(state))


def test_updated_roles_show_the_permission_that_differs_everywhere(contoso: Path):
    _edited_roles(contoso)
    outputs = {
        fmt: run_cli("plan", "--state", "state.json", "--format", fmt, cwd=contoso).stdout
        for fmt in ("text", "markdown", "html")
    }
    data_fact = "permissions[0].data_actions -keys/sign/action"
    arm_fact = "permissions[0].actions +Microsoft.KeyVault/vaults/deploy/action"
    assert data_fact in outputs["text"] and arm_fact in outputs["text"]
    assert "in effect: -keys/sign/action" in outputs["text"]  # every block evaluated
    assert md(data_fact) in outputs["markdown"] and md(arm_fact) in outputs["markdown"]
    assert data_fact in outputs["html"] and arm_fact in outputs["html"]
    changes = json.loads(run_cli("plan", "--state", "state.json", "--format", "json", cwd=contoso).stdout)
    paths = {(c["kind"], c["plane"]): [f["path"] for f in c["field_changes"]] for c in changes["changes"]}
    assert paths[("role_definition", "data")] == ["permissions[0].data_actions"]
    assert paths[("role_definition", "management")] == ["permissions[0].actions"]
    for fmt in ("text", "markdown"):
        drift = run_cli("drift", "--state", "state.json", "--format", fmt, cwd=contoso).stdout
        assert "~ contoso: role definition 'Contoso Key Rotator' (92f65729" in drift
        assert f"{data_fact}" in drift and "~ Azure RBAC: Azure role definition 'Contoso App Devops'" in drift
