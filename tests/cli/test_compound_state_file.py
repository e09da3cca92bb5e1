"""Compound identities through the state-file backend: `apply --state` edits the entry of
(object, application) it planned and leaves the same object's plain entry alone, and the reverse."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

SECURITY = "6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11"  # security-team in the Contoso example
APP = "5e1c2d3a-4b5f-4a6e-9c7d-8e9f0a1b2c3d"
OWN = "security-team: {keys: [backup, create, delete, get, import, list, restore], secrets: [all]}"


def _entries(path: Path) -> dict[tuple[str, str | None], list[str]]:
    policies = json.loads(path.read_text())["vaults"]["contoso-kv"]["access_policies"]
    return {
        (p["object_id"], p.get("application_id")): p["keys"] for p in policies if p["object_id"] == SECURITY
    }


def test_apply_to_a_state_file_edits_only_the_planned_entry(contoso: Path) -> None:
    state = json.loads((contoso / "live-as-tutorial.json").read_text())
    state["vaults"]["contoso-kv"]["access_policies"].append(
        {"object_id": SECURITY, "application_id": APP, "keys": ["sign"]}
    )
    (contoso / "state.json").write_text(json.dumps(state))
    plan = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert f"- access policy for security-team via application {APP}" in plan.stdout, plan.stdout
    assert "access policy for security-team\n" not in plan.stdout  # its own entry is as declared
    applied = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    own = _entries(contoso / "state.json")[(SECURITY, None)]
    assert _entries(contoso / "state.json") == {(SECURITY, None): own}  # prune: true took the compound one
    # declared as a list, the compound entry comes back, and the plain one is not rewritten
    manifest = contoso / "hsmsync.yaml"
    text = manifest.read_text()
    assert OWN in text
    declared = (
        OWN.replace("security-team: {", "security-team: [{")
        + f", {{application: {APP}, keys: [sign, verify]}}]"
    )
    manifest.write_text(text.replace(OWN, declared))
    again = run_cli("apply", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert again.exit_code == 0 and "1 applied" in again.stdout, again.stdout + again.stderr
    assert _entries(contoso / "state.json") == {(SECURITY, None): own, (SECURITY, APP): ["sign", "verify"]}
    assert run_cli("plan", "--state", "state.json", "--detailed-exitcode", cwd=contoso).exit_code == 0


def test_a_state_file_with_two_entries_of_one_object_and_application_is_refused(contoso: Path) -> None:
    """Two entries of (object, application), ids differing only in case: read as one, the other's
    permissions were hidden (the plan showed the plain entry as holding only `decrypt`)."""
    state = json.loads((contoso / "live-as-tutorial.json").read_text())
    policies = state["vaults"]["contoso-kv"]["access_policies"]
    assert [p["object_id"] for p in policies].count(SECURITY) == 1
    policies.append({"object_id": SECURITY.upper(), "keys": ["decrypt"]})
    (contoso / "state.json").write_text(json.dumps(state))
    plain = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert plain.exit_code == 1 and "Traceback" not in plain.stderr, plain.stdout + plain.stderr
    assert (
        f"access_policies[{len(policies) - 1}] is a second entry of {SECURITY} (the first is" in plain.stderr
    )
    policies[-1] = {"object_id": SECURITY, "application_id": APP, "keys": ["sign"]}
    policies.append({"object_id": SECURITY, "application_id": APP.upper(), "keys": ["purge"]})
    (contoso / "state.json").write_text(json.dumps(state))
    compound = run_cli("plan", "--state", "state.json", cwd=contoso)
    assert compound.exit_code == 1, compound.stdout + compound.stderr
    assert f"is a second entry of {SECURITY} via application {APP}" in compound.stderr
    assert "state.json" in compound.stderr and "vaults.contoso-kv" in compound.stderr


def test_a_saved_plan_that_moves_a_compound_grant_onto_the_plain_entry_is_refused_saying_which(
    contoso: Path,
) -> None:
    """The plan file's compound change rewritten, consistently, as one for the plain entry: refused,
    and the refusal tells the two apart (both lines read 'access policy -> security-team')."""
    (contoso / "state.json").write_text((contoso / "live-as-tutorial.json").read_text())
    manifest = contoso / "hsmsync.yaml"
    declared = (
        OWN.replace("security-team: {", "security-team: [{") + f", {{application: {APP}, keys: [sign]}}]"
    )
    manifest.write_text(manifest.read_text().replace(OWN, declared))
    assert run_cli("plan", "--state", "state.json", "--out", "plan.json", cwd=contoso).exit_code == 0
    doc = json.loads((contoso / "plan.json").read_text())
    [change] = [c for c in doc["changes"] if c.get("payload", {}).get("application_id") == APP]
    del change["payload"]["application_id"]
    change["name"] = SECURITY
    change["id"] = change["id"].replace(f"{SECURITY}+{APP}", SECURITY)
    (contoso / "plan.json").write_text(json.dumps(doc))
    refused = run_cli("apply", "plan.json", "--state", "state.json", "--auto-approve", cwd=contoso)
    assert refused.exit_code == 1, refused.stdout + refused.stderr
    lines = [line for line in refused.stderr.splitlines() if "security-team" in line]
    assert any("plan file:" in line and f"via application {APP}" not in line for line in lines), lines
    assert any(
        "is missing from the plan file" in line and f"via application {APP}" in line for line in lines
    ), lines
    assert json.loads((contoso / "state.json").read_text()) == json.loads(
        (contoso / "live-as-tutorial.json").read_text()
    )
