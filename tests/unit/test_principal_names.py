"""The pure part of `hsmsync resolve`: which principals need a lookup, and what the answers mean."""

from __future__ import annotations

from hsmsync.core.model import Principal
from hsmsync.principal_names import (
    DirectoryEntry,
    Found,
    NameQuery,
    StateDirectory,
    decide,
    name_queries,
)

G1 = "11111111-0000-4000-8000-000000000001"
G2 = "11111111-0000-4000-8000-000000000002"
U1 = "22222222-0000-4000-8000-000000000001"
SP = "33333333-0000-4000-8000-000000000001"


def _p(**kwargs: str) -> Principal:
    return Principal.model_validate(kwargs)


def test_queries_only_for_principals_without_id() -> None:
    queries, problems = name_queries(
        {
            "pinned": _p(type="Group", id=G1, name="Pinned"),
            "team": _p(type="Group", name="  Security Team "),
            "alice": _p(type="User", upn="alice@contoso.com", name="Alice"),
            "bob": _p(type="User", name="Bob"),
            "app": _p(type="ServicePrincipal", name="app"),
        }
    )
    assert problems == []
    assert queries == [
        NameQuery("team", "Group", "name", "Security Team"),
        NameQuery("alice", "User", "upn", "alice@contoso.com"),  # the UPN wins: it is unique
        NameQuery("bob", "User", "name", "Bob"),
        NameQuery("app", "ServicePrincipal", "name", "app"),
    ]


def test_principals_that_cannot_be_looked_up() -> None:
    queries, problems = name_queries(
        {"nothing": _p(type="Group"), "sp-upn": _p(type="ServicePrincipal", upn="x@y")}
    )
    assert queries == []
    assert [(p.key, p.field) for p in problems] == [("nothing", None), ("sp-upn", "upn")]
    assert "nothing to look up" in problems[0].message
    assert "looked up by `name`" in problems[1].message


def test_one_match_pins_the_id() -> None:
    q = NameQuery("team", "Group", "name", "Security Team")
    result = decide([q], {"team": Found((DirectoryEntry(G1.upper(), "Group", "Security Team"),))})
    assert result.ok and result.ids == {"team": G1}


def test_ambiguity_lists_every_candidate() -> None:
    q = NameQuery("alice", "User", "name", "Alice")
    found = Found(
        (
            DirectoryEntry(U1, "User", "Alice", "alice@contoso.com"),
            DirectoryEntry(G2, "User", "alice", "alice@fabrikam.com"),
            DirectoryEntry(U1, "User", "Alice", "alice@contoso.com"),  # paging may repeat one
        )
    )
    result = decide([q], {"alice": found})
    assert result.ids == {}
    (problem,) = result.problems
    assert problem.key == "alice" and problem.field == "name"
    assert problem.message.startswith("'Alice' is ambiguous: 2 user objects match; pin one with `id`:")
    assert f"\n    - {U1}  'Alice' <alice@contoso.com>" in problem.message
    assert f"\n    - {G2}  'alice' <alice@fabrikam.com>" in problem.message


def test_missing_with_and_without_suggestions() -> None:
    queries = [
        NameQuery("team", "Group", "name", "Securty Team"),
        NameQuery("alice", "User", "upn", "alice@contoso.com"),
    ]
    similar = Found((), (DirectoryEntry(G1, "Group", "Security Team"),))
    result = decide(queries, {"team": similar})  # no answer at all for alice: nothing found
    assert [p.message for p in result.problems] == [
        f"no group named 'Securty Team' in the directory; similar names in the directory:\n    - {G1}  'Security Team'",
        "no user with UPN 'alice@contoso.com' in the directory",
    ]


def test_two_keys_on_one_object() -> None:
    queries = [NameQuery("a", "Group", "name", "Team"), NameQuery("b", "Group", "name", "team")]
    entry = Found((DirectoryEntry(G1, "Group", "Team"),))
    result = decide(queries, {"a": entry, "b": entry})
    assert result.ids == {"a": G1}
    assert [p.key for p in result.problems] == ["b"]
    assert "already principal 'a'" in result.problems[0].message
    pinned = decide(queries[:1], {"a": entry}, pinned={"old": G1.upper()})
    assert "already principal 'old'" in pinned.problems[0].message


def test_state_directory_matches_by_type_and_case() -> None:
    directory = StateDirectory(
        [
            DirectoryEntry(G1, "Group", "Platform Engineers"),
            DirectoryEntry(G2, "Group", "platform engineers"),
            DirectoryEntry(SP, "ServicePrincipal", "Platform Engineers"),
            DirectoryEntry(U1, "User", "Alice", "Alice@Contoso.com"),
        ]
    )
    assert [e.id for e in directory.find(NameQuery("k", "Group", "name", "PLATFORM engineers")).matches] == [
        G1,
        G2,
    ]
    assert [e.id for e in directory.find(NameQuery("k", "User", "upn", "alice@contoso.com")).matches] == [U1]
    missing = directory.find(NameQuery("k", "Group", "name", "Platform Engineer"))
    assert missing.matches == () and {e.id for e in missing.similar} == {G1, G2}
    # close names of another type are not offered
    assert directory.find(NameQuery("k", "User", "name", "Platform Engineers")).similar == ()
