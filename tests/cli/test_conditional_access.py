"""Role-assignment conditions in effective access: `whocan --vault` and `explain` on a vault that
uses Azure RBAC never report a conditional grant as plain access."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hsmsync.core.state import ArmRoleAssignment, ArmState, KeyProperties
from hsmsync_files.statefile import write_state_file
from tests.conftest import run_cli
from tests.vaults import AUDITOR, OWNER_ROLE, PIPELINE, SECRETS_APP, SIGNER, SUB, VAULT_ID, vault_state

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
DATA_ACCESS_ADMIN = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
APP_ONLY = (
    "((!(ActionMatches{'Microsoft.KeyVault/vaults/secrets/getSecret/action'})) OR "
    "(@Resource[Microsoft.KeyVault/vaults/secrets:name] StringStartsWith 'app-'))"
)
TAGGED = (
    "((!(ActionMatches{'Microsoft.KeyVault/vaults/secrets/getSecret/action'})) OR "
    "(@Resource[Microsoft.KeyVault/vaults/secrets:tags:team<$key_case_sensitive$>] StringEquals 'ops'))"
)
ONLY_SECRETS_USER = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{SECRETS_USER}}}))"
)
MANIFEST = f"""version: 1
principals:
  pipeline: {{type: ServicePrincipal, id: {PIPELINE}}}
  orders-api: {{type: ServicePrincipal, id: {SECRETS_APP}}}
  release-signer: {{type: ServicePrincipal, id: {SIGNER}}}
  auditor: {{type: ServicePrincipal, id: {AUDITOR}}}
vaults:
  payments-kv:
    url: https://payments-kv.vault.azure.net
    resource_id: {VAULT_ID}
    rbac: true
teams:
  platform:
    members: [pipeline]
    management:
      - {{role: Owner, scope: /subscriptions/{SUB}/resourceGroups/AppRG}}
  app:
    members: [orders-api]
    management:
      - {{role: Key Vault Secrets User, scope: "vault:payments-kv", condition: "{APP_ONLY}"}}
  tagged:
    members: [release-signer]
    management:
      - {{role: Key Vault Secrets User, scope: "vault:payments-kv", condition: "{TAGGED}"}}
  delegates:
    members: [auditor]
    management:
      - {{role: Key Vault Data Access Administrator, scope: "vault:payments-kv", condition: "{ONLY_SECRETS_USER}"}}
"""


def _assignment(n: int, role: str, principal: str, scope: str, condition: str | None) -> ArmRoleAssignment:
    return ArmRoleAssignment(
        name=f"c0000000-0000-4000-8000-00000000000{n}",
        scope=scope,
        role_definition_id=role,
        principal_id=principal,
        principal_type="ServicePrincipal",
        condition=condition,
        condition_version="2.0" if condition else None,
    )


@pytest.fixture
def here(tmp_path: Path) -> Path:
    arm = ArmState(
        role_assignments=(
            _assignment(1, OWNER_ROLE, PIPELINE, f"/subscriptions/{SUB}/resourceGroups/AppRG", None),
            _assignment(2, SECRETS_USER, SECRETS_APP, VAULT_ID, APP_ONLY),
            _assignment(3, SECRETS_USER, SIGNER, VAULT_ID, TAGGED),
            _assignment(4, DATA_ACCESS_ADMIN, AUDITOR, VAULT_ID, ONLY_SECRETS_USER),
        )
    )
    write_state_file(tmp_path / "state.json", vault_state(rbac=True, arm=arm))
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST)
    return tmp_path


STATE = ("--state", "state.json")


def _section(text: str, title: str) -> str:
    """The lines under `title` up to the next unindented line (the is-now answer comes second)."""
    now = text[text.index("Is now") :] if "Is now" in text else text
    start = now.index(title) + len(title)
    lines = []
    for line in now[start:].splitlines()[1:]:
        if line and not line.startswith(" "):
            break
        lines.append(line)
    return "\n".join(lines)


def test_a_condition_about_names_is_not_reported_as_reading_every_secret(here: Path) -> None:
    answer = run_cli("whocan", "--vault", "payments-kv", "secrets/get", *STATE, cwd=here)
    assert answer.exit_code == 0, answer.stderr
    out = answer.stdout
    assert "Nobody can secrets/get on vault payments-kv (Azure RBAC)." in out  # nobody reads every secret
    under = _section(out, "Holds under a condition, only for the names it allows:")
    assert (
        "orders-api" in under
        and f"under a condition (only for the secrets whose names it allows): {APP_ONLY}" in under
    )
    unread = _section(out, "Conditional, not evaluated")
    assert "release-signer" in unread and "under a condition (not evaluated)" in unread
    # The delegate may assign Key Vault Secrets User (its condition allows it): it can obtain.
    assert "auditor" in _section(out, "more can obtain it by granting themselves a role:")


@pytest.mark.parametrize(("secret", "held"), [("app-db", True), ("payroll", False)])
def test_a_condition_about_names_is_evaluated_for_one_secret(here: Path, secret: str, held: bool) -> None:
    answer = run_cli(
        "whocan",
        "--vault",
        "payments-kv",
        "secrets/get",
        "--object",
        secret,
        "--format",
        "json",
        *STATE,
        cwd=here,
    )
    assert answer.exit_code == 0, answer.stderr
    doc = json.loads(answer.stdout)
    holders = {p["principal"]: p for p in doc["is_now"] if p["status"] == "holds"}
    assert ("orders-api" in holders) is held
    if held:
        assert holders["orders-api"]["condition"] == APP_ONLY
        assert holders["orders-api"]["condition_verdict"] == f"allows it for secret {secret}"
    # a condition on tags: never guessed either way
    [tagged] = [p for p in doc["is_now"] if p["principal"] == "release-signer"]
    assert tagged["status"] == "conditional (not evaluated)" and tagged["condition"] == TAGGED


def test_an_assigner_whose_condition_denies_every_role_that_gives_it_cannot_obtain_it(here: Path) -> None:
    # Key Vault Secrets User gives secrets/get, not keys/sign: the delegate cannot obtain signing.
    answer = run_cli("whocan", "--vault", "payments-kv", "keys/sign", "--format", "json", *STATE, cwd=here)
    assert answer.exit_code == 0, answer.stderr
    doc = json.loads(answer.stdout)
    obtainers = {p["principal"] for p in doc["is_now_can_obtain"]}
    assert "auditor" not in obtainers and "pipeline" in obtainers


def test_object_is_refused_on_an_access_policy_vault(tmp_path: Path) -> None:
    write_state_file(tmp_path / "state.json", vault_state())
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST.replace("    rbac: true\n", ""))
    refused = run_cli(
        "whocan", "--vault", "payments-kv", "secrets/get", "--object", "db", *STATE, cwd=tmp_path
    )
    assert refused.exit_code == 1 and "apply to the whole vault" in refused.stderr


def test_explain_shows_the_condition_and_does_not_call_it_plain_access(here: Path) -> None:
    text = run_cli("explain", "orders-api", *STATE, cwd=here)
    assert text.exit_code == 0, text.stderr
    assert "! holds, under a condition" in text.stdout
    assert f"condition: {APP_ONLY}" in text.stdout
    assert "data actions: Microsoft.KeyVault/vaults/secrets/getSecret/action" in text.stdout
    doc = json.loads(run_cli("explain", "release-signer", "--format", "json", *STATE, cwd=here).stdout)
    [grant] = [g for g in doc["is_now"]["grants"] if g["role"] == "Key Vault Secrets User"]
    assert grant["status"] == "conditional (not evaluated)" and grant["condition"] == TAGGED


SIGN_APP_KEYS = (
    "((!(ActionMatches{'Microsoft.KeyVault/vaults/keys/sign/action'})) OR "
    "(@Resource[Microsoft.KeyVault/vaults/keys:name] StringStartsWith 'app-'))"
)
SIGN_TAGGED = (
    "((!(ActionMatches{'Microsoft.KeyVault/vaults/keys/sign/action'})) OR "
    "(@Resource[Microsoft.KeyVault/vaults/keys:tags:team<$key_case_sensitive$>] StringEquals 'ops'))"
)
CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"


def test_keys_evaluates_a_condition_for_each_key_of_an_rbac_vault(here: Path) -> None:
    state = vault_state(
        rbac=True,
        arm=ArmState(
            role_assignments=(
                _assignment(5, CRYPTO_USER, SIGNER, VAULT_ID, SIGN_APP_KEYS),
                _assignment(6, CRYPTO_USER, SECRETS_APP, VAULT_ID, SIGN_TAGGED),
            )
        ),
    )
    vault = state.vaults["payments-kv"].model_copy(
        update={"keys": (KeyProperties(name="app-signing"), KeyProperties(name="payroll"))}
    )
    write_state_file(here / "state.json", state.model_copy(update={"vaults": {"payments-kv": vault}}))
    answer = run_cli("keys", "--format", "json", *STATE, cwd=here)
    assert answer.exit_code == 0, answer.stderr
    by_key = {k["name"]: k for k in json.loads(answer.stdout)["keys"]}

    def can(key: str, who: str) -> list[str]:
        return next((u["can"] for u in by_key[key]["users"] if u["principal"] == who), [])

    # Crypto User gives sign, verify, encrypt, decrypt, wrap, unwrap; the condition holds back sign
    # everywhere but on app- keys.
    assert "sign" in can("app-signing", "release-signer")
    assert "sign" not in can("payroll", "release-signer") and "verify" in can("payroll", "release-signer")
    [via] = next(u["via"] for u in by_key["app-signing"]["users"] if u["principal"] == "release-signer")
    assert f"under a condition (allows it for key app-signing): {SIGN_APP_KEYS}" in via
    # a condition on tags is neither counted as use nor left out
    assert "sign" not in can("payroll", "orders-api") and "verify" in can("payroll", "orders-api")
    conditional = {u["principal"]: u for u in by_key["payroll"]["conditional_not_evaluated"]}
    assert conditional["orders-api"]["can"] == ["sign"]
