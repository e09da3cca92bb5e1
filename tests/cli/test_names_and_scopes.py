"""Inputs that used to change meaning silently (issue 9, items 1, 2, 3 and 5): each is now an
error naming file, line and field, with the fix where one is evident."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsmsync.core.scopes import ParsedArmScope, parse_arm_scope
from tests.conftest import run_cli

SUB = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
HEAD = f"""\
version: 1
principals:
  app-vm: {{type: ServicePrincipal, id: 8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44}}
  ops: {{type: Group, id: 6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11}}
hsms:
  h1:
    url: https://h1.managedhsm.azure.net
    resource_id: {SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1
"""
OTHER_ID = "0f4e2b9c-7a1d-4c36-8e55-9b2d6a4c1e22"


def _validate(tmp_path: Path, text: str):
    (tmp_path / "hsmsync.yaml").write_text(text, encoding="utf-8")
    result = run_cli("validate", cwd=tmp_path)
    assert "Traceback" not in result.stderr
    return result


# -- item 1: names ------------------------------------------------------------------------------

SPELLINGS = {
    "space": '"app-vm "',
    "leading-space": '" app-vm"',
    "tab": '"app-vm\\t"',
    "newline": '"app-vm\\n"',
    "nbsp": '"app-vm\\u00a0"',
    "ideographic-space": '"app-vm\\u3000"',
    "zero-width-space": '"app-vm\\u200b"',
    "case": "App-VM",
    "fullwidth": '"ａｐｐ-ｖｍ"',
}


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_a_principal_differing_only_by_whitespace_or_case_is_a_duplicate_naming_both_lines(
    tmp_path: Path, spelling: str
):
    text = HEAD.replace("hsms:\n", f"  {spelling}: {{type: ServicePrincipal, id: {OTHER_ID}}}\nhsms:\n")
    text += "teams:\n  t:\n    members: [app-vm]\n    data: [{hsm: h1, role: Crypto User}]\n"
    result = _validate(tmp_path, text)
    assert result.exit_code == 1
    assert "hsmsync.yaml:5: principals." in result.stderr
    assert "duplicate name" in result.stderr and "'app-vm' at line 3" in result.stderr


SECTIONS = {
    "teams": (
        'teams:\n  security:\n    members: [ops]\n  "security ":\n    members: [app-vm]\n',
        "hsmsync.yaml:12: teams.security ",
        "'security' at line 10",
    ),
    "hsms": (
        '  "h1\\u00a0":\n    url: https://h2.managedhsm.azure.net\n'
        f"    resource_id: {SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h2\n",
        "hsmsync.yaml:9: hsms.h1",
        "'h1' at line 6",
    ),
    "roles": (
        "roles:\n  r:\n    {hsm: h1, name: R1, data_actions: [keys/sign/action]}\n"
        '  "R":\n    {hsm: h1, name: R2, data_actions: [keys/sign/action]}\n',
        "hsmsync.yaml:12: roles.R",
        "'r' at line 10",
    ),
    "arm_roles": (
        f"arm_roles:\n  devops: {{name: D1, actions: [a/b], assignable_scopes: [{SUB}]}}\n"
        f'  "devops\\t": {{name: D2, actions: [a/b], assignable_scopes: [{SUB}]}}\n',
        "hsmsync.yaml:11: arm_roles.devops",
        "'devops' at line 10",
    ),
    "access_policies": (
        "vaults:\n  kv:\n    url: https://kv.vault.azure.net\n"
        f"    resource_id: {SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv\n"
        '    access_policies:\n      app-vm: {keys: [get]}\n      "app-vm\\u3000": {keys: [all]}\n',
        "hsmsync.yaml:15: vaults.kv.access_policies.app-vm",
        "'app-vm' at line 14",
    ),
}


@pytest.mark.parametrize(("extra", "where", "first"), SECTIONS.values(), ids=SECTIONS.keys())
def test_every_name_keyed_section_rejects_lookalike_keys(tmp_path: Path, extra: str, where: str, first: str):
    text = HEAD + extra if not extra.startswith("  ") else HEAD + extra
    result = _validate(tmp_path, text)
    assert result.exit_code == 1, result.stdout
    assert where in result.stderr and "duplicate name" in result.stderr and first in result.stderr


def test_a_name_with_whitespace_is_an_error_with_the_fix(tmp_path: Path):
    text = HEAD.replace("  ops:", '  "ops ":') + "teams:\n  t:\n    members: [app-vm]\n"
    result = _validate(tmp_path, text)
    assert result.exit_code == 1
    assert "hsmsync.yaml:4: principals.ops :" in result.stderr
    assert "did you mean 'ops'?" in result.stderr


@pytest.mark.parametrize("member", ['" app-vm"', '"app-vm "', "App-VM", '"app-vm\\u00a0"'])
def test_member_references_match_exactly(tmp_path: Path, member: str):
    result = _validate(tmp_path, HEAD + f"teams:\n  t:\n    members: [{member}]\n")
    assert result.exit_code == 1
    assert "hsmsync.yaml:11: teams.t.members[0]" in result.stderr


def test_hsm_references_match_exactly(tmp_path: Path):
    text = HEAD + 'teams:\n  t:\n    members: [ops]\n    data: [{hsm: "h1 ", role: Crypto User}]\n'
    result = _validate(tmp_path, text)
    assert result.exit_code == 1
    assert "hsmsync.yaml:12: teams.t.data[0].hsm" in result.stderr


@pytest.mark.parametrize(
    ("key", "kind"),
    [("no", "bool"), ("1.0", "float"), ("null", "null"), ("0o17", "a number"), ("1e3", "a number")],
)
def test_a_key_yaml_reads_as_another_type_must_be_quoted(tmp_path: Path, key: str, kind: str):
    result = _validate(tmp_path, HEAD + f"teams:\n  {key}:\n    members: [ops]\n")
    assert result.exit_code == 1
    assert (
        f"hsmsync.yaml:10: teams.{key}: key '{key}' is not a string to YAML (it reads as {kind})"
        in result.stderr
    )
    quoted = _validate(tmp_path, HEAD + f"teams:\n  '{key}':\n    members: [ops]\n")
    assert quoted.exit_code == 0, quoted.stderr


# -- items 2 and 3: scopes ------------------------------------------------------------------------

ARM_SCOPES = {
    "dotdot-rg": (f"{SUB}/resourceGroups/..", "'..' segments are not allowed"),
    "dotdot-sub": ("/subscriptions/..", "'..' segments are not allowed"),
    "dot": (f"{SUB}/resourceGroups/./x", "'.' segments are not allowed"),
    "trailing-slash": (f"{SUB}/resourceGroups/rg/", f"did you mean '{SUB}/resourceGroups/rg'?"),
    "double-slash": (f"{SUB}//resourceGroups/rg", f"did you mean '{SUB}/resourceGroups/rg'?"),
    "whitespace": (f"'{SUB}/resourceGroups/rg '", "write the scope without it"),
    "inner-space": (f"'{SUB}/resourceGroups/r g'", "SPACE"),
    "no-leading-slash": (SUB[1:], f"did you mean '{SUB}'?"),
    "root": ("/", "may not end with '/'"),
    "dotdot-in-provider-chain": (
        f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/..",
        "'..' segments are not allowed",
    ),
}


@pytest.mark.parametrize(("scope", "message"), ARM_SCOPES.values(), ids=ARM_SCOPES.keys())
def test_malformed_arm_scopes_are_refused(tmp_path: Path, scope: str, message: str):
    text = (
        HEAD
        + f"teams:\n  t:\n    members: [ops]\n    management:\n      - role: Owner\n        scope: {scope}\n"
    )
    result = _validate(tmp_path, text)
    assert result.exit_code == 1, result.stdout
    assert "hsmsync.yaml:14: teams.t.management[0].scope" in result.stderr
    assert message in result.stderr


def test_a_resource_id_with_dot_segments_is_refused(tmp_path: Path):
    result = _validate(tmp_path, HEAD.replace("resourceGroups/rg/", "resourceGroups/../"))
    assert result.exit_code == 1
    assert "hsmsync.yaml:8: hsms.h1.resource_id" in result.stderr


def test_arm_scopes_are_parsed_into_their_parts():
    hsm = parse_arm_scope(f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1")
    assert hsm == ParsedArmScope(
        text=f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1",
        subscription=SUB.rsplit("/", 1)[1],
        resource_group="rg",
        provider="Microsoft.KeyVault",
        resources=(("managedHSMs", "h1"),),
    )
    assert hsm.level == "resource" and hsm.resource_type == "Microsoft.KeyVault/managedHSMs"
    mg = parse_arm_scope("/providers/Microsoft.Management/managementGroups/root-mg")
    assert (mg.level, mg.management_group) == ("management group", "root-mg")
    assert parse_arm_scope(SUB).level == "subscription"
    assert parse_arm_scope(f"{SUB}/resourceGroups/rg").level == "resource group"


DATA_SCOPES = {
    "empty": ("''", "a blank scope is not allowed"),
    "blank": ("' '", "a blank scope is not allowed"),
    "double-slash": ("//", "did you mean '/'?"),
    "keys-trailing-slash": ("/keys/", "did you mean '/keys' (every key) or '/keys/<key-name>'?"),
    "no-leading-slash": ("keys", "did you mean '/keys'?"),
    "trailing-space": ("'/keys/ '", "did you mean '/keys' (every key) or '/keys/<key-name>'?"),
    "key-trailing-slash": ("/keys/app-signing/", "did you mean '/keys/app-signing'?"),
    "double-slash-key": ("//keys/app-signing", "did you mean '/keys/app-signing'?"),
    "upper-case": ("/KEYS", "did you mean '/keys'?"),
}


@pytest.mark.parametrize(("scope", "message"), DATA_SCOPES.values(), ids=DATA_SCOPES.keys())
def test_data_scopes_that_would_widen_are_errors_with_the_fix(tmp_path: Path, scope: str, message: str):
    text = (
        HEAD
        + f"teams:\n  t:\n    members: [ops]\n    data:\n      - {{hsm: h1, role: Crypto User, scope: {scope}}}\n"
    )
    result = _validate(tmp_path, text)
    assert result.exit_code == 1, result.stdout
    assert "hsmsync.yaml:13: teams.t.data[0].scope" in result.stderr
    assert message in result.stderr


# -- item 5: role names ---------------------------------------------------------------------------

ROLE_CONFLICTS = {
    "name-is-builtin-short-name": ("auditor", "Crypto Auditor", "11: roles.auditor.name"),
    "name-is-builtin-short-name-other-case": ("auditor", "crypto  AUDITOR", "11: roles.auditor.name"),
    "name-is-builtin-full-name": ("auditor", "managed hsm crypto auditor", "11: roles.auditor.name"),
    "key-is-builtin-short-name": ("administrator", "My Admin", "10: roles.administrator"),
    "key-is-builtin-guid": ("21dbd100-6940-42c2-9190-5d6cb909625b", "Mine", "10: roles.21dbd100"),
}


@pytest.mark.parametrize(("key", "name", "field"), ROLE_CONFLICTS.values(), ids=ROLE_CONFLICTS.keys())
def test_a_custom_role_cannot_take_a_builtin_name(tmp_path: Path, key: str, name: str, field: str):
    text = HEAD + f"roles:\n  {key}:\n    {{hsm: h1, name: {name}, data_actions: [keys/read/action]}}\n"
    text += "teams:\n  t:\n    members: [ops]\n    data: [{hsm: h1, role: Crypto Auditor}]\n"
    result = _validate(tmp_path, text)
    assert result.exit_code == 1, result.stdout
    assert f"hsmsync.yaml:{field}" in result.stderr
    assert "built-in role" in result.stderr and "ambiguous" in result.stderr


def test_a_custom_role_key_equal_to_another_custom_roles_name_is_ambiguous(tmp_path: Path):
    text = HEAD + (
        "roles:\n  rotator:\n    {hsm: h1, name: Key Rotator, data_actions: [keys/rotate/action]}\n"
        "  key-reader:\n    {hsm: h1, name: rotator, data_actions: [keys/read/action]}\n"
    )
    result = _validate(tmp_path, text)
    assert result.exit_code == 1
    assert "hsmsync.yaml:13: roles.key-reader.name: 'rotator' is the key of custom role 'rotator'" in (
        result.stderr
    )


def test_custom_roles_on_different_hsms_may_share_a_display_name(tmp_path: Path):
    text = HEAD + (
        "  h2:\n    url: https://h2.managedhsm.azure.net\n"
        f"    resource_id: {SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h2\n"
        "roles:\n  r1: {hsm: h1, name: Key Rotator, data_actions: [keys/rotate/action]}\n"
        "  r2: {hsm: h2, name: Key Rotator, data_actions: [keys/rotate/action]}\n"
    )
    assert _validate(tmp_path, text).exit_code == 0


@pytest.mark.parametrize(("key", "name"), [("owner", "Contoso Owner"), ("devops", "reader")])
def test_a_custom_azure_role_cannot_take_a_builtin_name(tmp_path: Path, key: str, name: str):
    text = HEAD + f"arm_roles:\n  {key}: {{name: {name}, actions: [a/b], assignable_scopes: [{SUB}]}}\n"
    text += f"teams:\n  t:\n    members: [ops]\n    management: [{{role: {key}, scope: {SUB}}}]\n"
    result = _validate(tmp_path, text)
    assert result.exit_code == 1, result.stdout
    assert f"hsmsync.yaml:10: arm_roles.{key}" in result.stderr
    assert "built-in Azure role" in result.stderr


@pytest.mark.parametrize("command", [("validate",), ("resolve", "--check"), ("lint",), ("explain", "ops")])
def test_every_command_refuses_lookalike_names_and_odd_scopes_alike(tmp_path: Path, command: tuple[str, ...]):
    text = HEAD.replace("hsms:\n", f'  "ops\\u00a0": {{type: Group, id: {OTHER_ID}}}\nhsms:\n')
    text += "teams:\n  t:\n    members: [ops]\n    data: [{hsm: h1, role: Crypto User, scope: /keys/}]\n"
    (tmp_path / "hsmsync.yaml").write_text(text, encoding="utf-8")
    result = run_cli(*command, cwd=tmp_path)
    assert result.exit_code == 1
    assert "hsmsync.yaml:5: principals.ops\u00a0: duplicate name" in result.stderr
    assert "Traceback" not in result.stderr
