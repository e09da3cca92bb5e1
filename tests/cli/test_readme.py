"""README slips found by review, kept from coming back."""

from __future__ import annotations

import argparse
import json
import re

from hsmsync.cli import build_parser
from tests.conftest import REPO, run_cli


def test_the_demo_paragraph_says_the_tutorial_mismatch_once():
    # Finding 13a: the sentence was there twice, the second time starting "Those commands give".
    readme = (REPO / "README.md").read_text()
    assert readme.count("managed identity *Crypto Auditor* where") == 1
    assert "; Those commands give" not in readme


def _readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_the_demo_plan_excerpt_is_what_plan_prints(tmp_path):
    # Issue 12: the example plan was stale (no `risk:` lines). Its lines must appear, in order,
    # in the real output of the command the README names.
    readme = _readme()
    start = readme.index("mistake being corrected (an excerpt of")
    block = readme[readme.index("```text\n", start) + len("```text\n") : readme.index("\n```", start + 100)]
    contoso = REPO / "examples" / "contoso"
    result = run_cli(
        "plan",
        "-f",
        str(contoso / "hsmsync.yaml"),
        "--state",
        str(contoso / "live-as-tutorial.json"),
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.stderr
    output = iter(result.stdout.splitlines())
    for line in block.splitlines():
        if line.strip() != "...":
            assert line in output, f"README excerpt line not in the plan output (in order): {line!r}"


def test_the_demo_state_is_described_as_it_is():
    # "an HSM fresh from creation": the demo state already grants the pipeline Crypto Auditor at /keys.
    readme = _readme()
    assert "fresh from creation" not in readme
    state = json.loads((REPO / "examples" / "contoso" / "empty-state.json").read_text())
    hsm = state["hsms"]["contoso"]
    pipeline = hsm["initial_admin_object_ids"][0]
    crypto_auditor = "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3"
    assert {"scope": "/keys", "role_definition_id": crypto_auditor, "principal_id": pipeline}.items() <= next(
        a for a in hsm["role_assignments"] if a["scope"] == "/keys"
    ).items()
    assert "also holds Crypto\nAuditor at `/keys`" in readme


def test_roles_the_readme_tells_the_pipeline_to_hold_are_declarable(tmp_path):
    # "declare Monitoring Contributor" was refused as an unknown role. Every role the permissions
    # paragraph names in bold must be one a manifest can declare.
    readme = _readme()
    start = readme.index("The pipeline identity needs")
    paragraph = readme[start : readme.index("\n\n", start)]
    catalog = run_cli("roles", cwd=tmp_path).stdout
    named = [" ".join(n.split()) for n in re.findall(r"\*\*([A-Za-z \n]+)\*\*", paragraph)]
    assert len(named) >= 5
    for role in named:
        assert re.search(rf"  {role}$", catalog, re.M), f"README names {role!r}, which hsmsync does not know"


def test_errors_are_described_as_reported_stage_by_stage():
    readme = _readme()
    assert "all at once, with a suggestion" not in readme
    assert "Checks run in stages" in readme


def test_v_is_documented_on_the_commands_that_accept_it():
    # `-v` was described as general; only plan, apply and drift accept it.
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    accept = sorted(name for name, p in sub.choices.items() if "-v" in p._option_string_actions)
    assert accept == ["apply", "drift", "plan"]
    assert "On `plan`, `apply` and `drift` (the commands that read Azure at scale), `-q`" in _readme()
