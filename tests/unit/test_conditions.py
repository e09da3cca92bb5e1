"""Role-assignment conditions: the parser and three-valued evaluator (core/conditions.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsmsync.core.condition_syntax import parses
from hsmsync.core.conditions import (
    Request,
    Verdict,
    assignment_request,
    effective_condition,
    evaluate,
    grant_verdict,
    name_request,
    role_condition,
    verdict_for_each_role,
)
from hsmsync.core.state import Permission

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
WRITE = "Microsoft.Authorization/roleAssignments/write"
DELETE = "Microsoft.Authorization/roleAssignments/delete"
GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"

# Key Vault Data Access Administrator's condition, as the portal writes it (two roles allowed).
DAA = f"""(
 (
  !(ActionMatches{{'{WRITE}'}})
 )
 OR
 (
  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{SECRETS_USER}, {CRYPTO_USER}}}
 )
)
AND
(
 (
  !(ActionMatches{{'{DELETE}'}})
 )
 OR
 (
  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{SECRETS_USER}, {CRYPTO_USER}}}
 )
)"""
APP_SECRETS = (
    f"((!(ActionMatches{{'{GET_SECRET}'}})) OR "
    "(@Resource[Microsoft.KeyVault/vaults/secrets:name] StringStartsWith 'app-'))"
)


@pytest.mark.parametrize(
    ("action", "role", "verdict"),
    [
        (WRITE, SECRETS_USER, Verdict.ALLOWED),
        (WRITE, CRYPTO_USER, Verdict.ALLOWED),
        (WRITE, OWNER, Verdict.DENIED),
        (DELETE, OWNER, Verdict.DENIED),
        (DELETE, SECRETS_USER, Verdict.ALLOWED),
        ("Microsoft.Authorization/roleAssignments/read", OWNER, Verdict.ALLOWED),
    ],
)
def test_the_data_access_administrator_condition_limits_which_roles_it_assigns(action, role, verdict):
    assert (
        evaluate(
            DAA, assignment_request(action, [f"/providers/Microsoft.Authorization/roleDefinitions/{role}"])
        )
        is verdict
    )


def test_a_write_whose_roles_are_not_known_is_not_evaluated():
    assert evaluate(DAA, Request(WRITE, {})) is Verdict.NOT_EVALUATED
    assert verdict_for_each_role(DAA, WRITE, ()) is Verdict.NOT_EVALUATED
    assert verdict_for_each_role(DAA, WRITE, (SECRETS_USER, CRYPTO_USER)) is Verdict.ALLOWED
    assert verdict_for_each_role(DAA, WRITE, (SECRETS_USER, OWNER)) is Verdict.DENIED


@pytest.mark.parametrize(
    ("condition", "name", "verdict"),
    [
        (APP_SECRETS, "app-db", Verdict.ALLOWED),
        (APP_SECRETS, "payroll", Verdict.DENIED),
        ("@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals 'db'", "db", Verdict.ALLOWED),
        ("@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals 'db'", "DB", Verdict.DENIED),
        (
            "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEqualsIgnoreCase 'db'",
            "DB",
            Verdict.ALLOWED,
        ),
        (
            "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringLike 'app-*-prod'",
            "app-x-prod",
            Verdict.ALLOWED,
        ),
        (
            "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringLike 'app-*-prod'",
            "app-x-dev",
            Verdict.DENIED,
        ),
        ("@Resource[Microsoft.KeyVault/vaults/secrets:name] StringNotEquals 'db'", "db", Verdict.DENIED),
        ("NOT @Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals 'db'", "x", Verdict.ALLOWED),
        (
            "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals 'a' || "
            "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals 'b'",
            "b",
            Verdict.ALLOWED,
        ),
    ],
)
def test_names_are_compared_as_documented(condition, name, verdict):
    assert evaluate(condition, name_request(GET_SECRET, "secrets", name)) is verdict


def test_an_action_the_condition_does_not_target_passes_it():
    assert (
        evaluate(APP_SECRETS, Request("Microsoft.KeyVault/vaults/secrets/setSecret/action", {}))
        is Verdict.ALLOWED
    )


@pytest.mark.parametrize(
    "condition",
    [
        "@Resource[Microsoft.KeyVault/vaults/secrets:tags] Exists",  # an operator outside the subset
        "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals",  # no value
        "((!(ActionMatches{'x'})) OR",  # cut short
        "@Environment[UtcNow] DateTimeGreaterThan '2026-01-01T00:00:00.0Z'",
        "",
    ],
)
def test_what_it_cannot_parse_is_not_evaluated(condition):
    assert not parses(condition)
    assert evaluate(condition, name_request(GET_SECRET, "secrets", "app-x")) is Verdict.NOT_EVALUATED


def test_an_attribute_the_question_does_not_supply_is_not_evaluated():
    tagged = f"(!(ActionMatches{{'{GET_SECRET}'}})) OR @Resource[Microsoft.KeyVault/vaults/secrets:tags:team<$key_case_sensitive$>] StringEquals 'a'"
    assert evaluate(APP_SECRETS, Request(GET_SECRET, {})) is Verdict.NOT_EVALUATED
    assert evaluate(tagged, name_request(GET_SECRET, "secrets", "app-x")) is Verdict.NOT_EVALUATED


# ---- properties -----------------------------------------------------------------------------

_ATTRS = st.sampled_from(
    [
        "@Resource[Microsoft.KeyVault/vaults/secrets:name]",
        "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]",
        "@Resource[Microsoft.KeyVault/vaults/secrets:tags:team<$key_case_sensitive$>]",
        "@Principal[Microsoft.Directory/CustomSecurityAttributes/Id:Dept_Name]",
    ]
)
_OPS = st.sampled_from(["StringEquals", "StringStartsWith", "StringLike", "StringNotEquals", "GuidEquals"])
_WORDS = st.text(alphabet="abcdef-*", min_size=1, max_size=6)
_ACTIONS = st.sampled_from([GET_SECRET, WRITE, DELETE, "Microsoft.KeyVault/vaults/keys/sign/action"])
_LEAF = st.one_of(
    st.builds(lambda a, o, w: f"{a} {o} '{w}'", _ATTRS, _OPS, _WORDS),
    st.builds(lambda a: f"ActionMatches{{'{a}'}}", _ACTIONS),
    st.builds(lambda a, o, w: f"{a} {o} '{w}' {o}", _ATTRS, _OPS, _WORDS),  # malformed
)
_CONDITIONS = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.builds(lambda c: f"!({c})", inner),
        st.builds(lambda a, b: f"({a}) AND ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) OR ({b})", inner, inner),
    ),
    max_leaves=6,
)
_BLOCKS = st.lists(st.sampled_from([GET_SECRET, WRITE, "Microsoft.KeyVault/vaults/keys/*"]), max_size=2)


@given(_CONDITIONS, _ACTIONS, _BLOCKS, st.text(alphabet="abc-", max_size=5))
def test_a_condition_never_allows_what_the_role_does_not_grant(condition, action, granted, name):
    permissions = (Permission(actions=tuple(granted), data_actions=tuple(granted)),)
    for data in (True, False):
        verdict = grant_verdict(permissions, condition, name_request(action, "secrets", name), data=data)
        if verdict is Verdict.ALLOWED:
            assert grant_verdict(permissions, None, Request(action, {}), data=data) is Verdict.ALLOWED


@given(_CONDITIONS, _ACTIONS)
def test_an_unknown_attribute_is_never_guessed_allowed(condition, action):
    """With no attributes supplied, a comparison is unknown: the verdict is what the condition's
    action tests alone decide, the same whatever the (absent) attributes would have said."""
    bare = evaluate(condition, Request(action, {}))
    if bare is not Verdict.NOT_EVALUATED:
        for name in ("a", "app-x", "zz"):
            assert evaluate(condition, name_request(action, "secrets", name)) is bare


@given(_CONDITIONS, _ACTIONS, st.text(alphabet="abc-", max_size=5))
def test_negation_swaps_allowed_and_denied(condition, action, name):
    request = name_request(action, "secrets", name)
    verdict, negated = evaluate(condition, request), evaluate(f"!({condition})", request)
    swap = {Verdict.ALLOWED: Verdict.DENIED, Verdict.DENIED: Verdict.ALLOWED}
    if parses(condition):
        assert negated is swap.get(verdict, Verdict.NOT_EVALUATED)
    else:
        assert verdict is negated is Verdict.NOT_EVALUATED


def test_a_roles_own_condition_narrows_only_its_block() -> None:
    only_secrets_user = (
        "(!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
        "ForAnyOfAnyValues:GuidEquals {4633458b-17de-408a-b874-0445c86b69e6})"
    )
    plain = Permission(actions=("Microsoft.KeyVault/vaults/read",))
    limited = Permission(actions=("Microsoft.Authorization/roleAssignments/*",), condition=only_secrets_user)
    assert role_condition((plain,)) is None
    assert role_condition((limited,)) == only_secrets_user
    both = role_condition((plain, limited))
    assert both is not None
    write = "Microsoft.Authorization/roleAssignments/write"
    reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    assert verdict_for_each_role(both, write, [reader]) is Verdict.DENIED
    assert verdict_for_each_role(both, write, ["4633458b-17de-408a-b874-0445c86b69e6"]) is Verdict.ALLOWED
    assert evaluate(both, Request("Microsoft.KeyVault/vaults/read", {})) is Verdict.ALLOWED
    # the assignment's own condition and the role's must both hold
    deny_all = "!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})"
    combined = effective_condition(deny_all, (limited,))
    assert combined is not None
    assert verdict_for_each_role(combined, write, ["4633458b-17de-408a-b874-0445c86b69e6"]) is Verdict.DENIED
    assert effective_condition(None, (plain,)) is None and effective_condition(deny_all, (plain,)) == deny_all
