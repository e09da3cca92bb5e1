"""The meaning fuzzer (issue 9): for every manifest hsmsync accepts, the plan shows exactly what is
sent to the backend, and that is exactly what the manifest says; everything else is refused with
`file:line` and exit 1, never a traceback.

Manifests are generated clean (valid by construction, names that YAML quotes or that look like
other types included) and then, maybe, spoiled with hostile edits: lookalike names (whitespace,
NBSP, U+3000, zero-width, case, full-width), markup, odd scopes ('', '//', '/keys/', '..'),
role names that shadow built-ins, tags, anchors, merge keys, bad bytes. A spoiled manifest must
be refused; a clean one is planned and applied through the CLI with the state-file backend, and
the test compares three things computed independently: what the manifest means (an oracle here,
from the role catalog's data file), what the JSON plan displays, and what the backend received.

Examples per test: HSMSYNC_FUZZ_EXAMPLES (default 100); a longer run, e.g.
`HSMSYNC_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/unit/test_meaning_fuzz.py`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli

EXAMPLES = int(os.environ.get("HSMSYNC_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REPO = Path(__file__).resolve().parents[2]
SUB = "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
HSM_RID = f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h"
URL = "https://h.managedhsm.azure.net"

# The oracle's own view of the catalog: the data files, not hsmsync's resolver.
_DATA = json.loads((REPO / "src/hsmsync/data/builtin_data_roles.json").read_text())["value"]
BUILTIN_DATA = {r["name"]: r["properties"]["roleName"] for r in _DATA}
_MGMT = json.loads((REPO / "src/hsmsync/data/management_roles.json").read_text())["value"]
BUILTIN_MGMT = {r["name"]: r["role_name"] for r in _MGMT}
DATA_REFS = [(n, g) for g, n in BUILTIN_DATA.items()]
DATA_REFS += [(n[len("Managed HSM ") :].lower(), g) for g, n in BUILTIN_DATA.items()]
DATA_REFS += [(n.upper(), g) for g, n in BUILTIN_DATA.items()] + [(g, g) for g in BUILTIN_DATA]
MGMT_REFS = [(n, g) for g, n in BUILTIN_MGMT.items()] + [(g, g) for g in BUILTIN_MGMT]
RESERVED = {n.casefold() for n, _ in DATA_REFS + MGMT_REFS}
DATA_SCOPES = ["/", "/keys", "/keys/k1", "/keys/app-signing"]
ARM_SCOPES = [
    SUB,
    f"{SUB}/resourceGroups/rg",
    f"{SUB}/resourceGroups/Other.RG_(1)",
    HSM_RID,
    "/providers/Microsoft.Management/managementGroups/root-mg",
]
PRINCIPAL_TYPES = ["User", "Group", "ServicePrincipal"]
OTHER_ID = "00000000-0000-4000-8000-0000000000aa"  # uuids() draws version 4 ids, never this one

# Valid names, including ones YAML would read as another type unless quoted.
names = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True),
    st.sampled_from(["no", "yes", "true", "null", "1.0", "0x1F", "1e3", "on", "a.b", "_x"[1:]]),
).filter(lambda n: n.casefold() not in RESERVED)
display_names = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=20
).filter(
    lambda t: t == t.strip() and " ".join(unicodedata.normalize("NFKC", t).casefold().split()) not in RESERVED
)

WHITESPACE = [" ", "\t", "\n", "\u00a0", "\u3000", "\u200b", "\ufeff"]
MARKUP = ["<!--", "</details>", "**x**", "| a |", "[x](y)", "`", "#", "a b", "", "..", "é"]
ODD_DATA_SCOPES = ["", " ", "//", "/keys/", "keys", "/keys/ ", "/keys/k1/", "/KEYS", "/keys//k1", "/ keys"]
ODD_ARM_SCOPES = [
    f"{SUB}/resourceGroups/..",
    "/subscriptions/..",
    f"{SUB}/resourceGroups/./x",
    f"{SUB}/resourceGroups/rg/",
    f"{SUB}//resourceGroups/rg",
    f"{SUB}/resourceGroups/rg ",
    f" {SUB}",
    SUB[1:],
    "/",
    f"{HSM_RID}/..",
]


@dataclass
class Doc:
    data: dict[str, Any]
    custom: dict[str, str] = field(default_factory=dict)  # custom role key -> display name
    spoiled: list[str] = field(default_factory=list)  # what was done to make it invalid


def _once(entries: list[tuple[tuple[str, str], str]]) -> list[tuple[str, str]]:
    """(role text, scope) once each, case aside (the same line twice is reported as a duplicate)."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for (role, _), scope in entries:
        seen.setdefault((role.lower(), scope.lower()), (role, scope))
    return list(seen.values())


@st.composite
def clean_docs(draw: st.DrawFn) -> Doc:
    keys = draw(st.lists(names, min_size=1, max_size=4, unique_by=str.casefold))
    ids = draw(st.lists(st.uuids(), min_size=len(keys), max_size=len(keys), unique=True))
    principals = {
        k: {"type": draw(st.sampled_from(PRINCIPAL_TYPES)), "id": str(i)} for k, i in zip(keys, ids, strict=True)
    }
    hsm = draw(names)
    doc = Doc({"version": 1, "principals": principals, "hsms": {hsm: {"url": URL, "resource_id": HSM_RID}}})
    if draw(st.booleans()):
        key = draw(names.filter(lambda n: n not in keys))
        name = draw(display_names.filter(lambda t: t.casefold() != key.casefold()))
        doc.custom[key] = name
        doc.data["roles"] = {key: {"hsm": hsm, "name": name, "data_actions": ["keys/sign/action"]}}
    data_refs = DATA_REFS + [(k, "custom") for k in doc.custom]
    teams: dict[str, Any] = {}
    for team in draw(st.lists(names, min_size=1, max_size=3, unique_by=str.casefold)):
        members = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
        data = draw(st.lists(st.tuples(st.sampled_from(data_refs), st.sampled_from(DATA_SCOPES)), max_size=3))
        mgmt = draw(st.lists(st.tuples(st.sampled_from(MGMT_REFS), st.sampled_from(ARM_SCOPES)), max_size=2))
        teams[team] = {
            "members": members,
            # one entry per (role text, scope): the same line twice is a duplicate, reported as such
            "data": [{"hsm": hsm, "role": r, "scope": s} for r, s in _once(data)],
            "management": [{"role": r, "scope": s} for r, s in _once(mgmt)],
        }
    doc.data["teams"] = teams
    return doc


def _lookalike(name: str, how: int) -> str:
    variants = [name + w for w in WHITESPACE] + [w + name for w in WHITESPACE[:3]]
    variants += [name.swapcase() if name.swapcase() != name else name.upper() + "\u00a0"]
    variants += ["".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)]  # full width
    return variants[how % len(variants)]


def spoil(doc: Doc, choice: int, pick: int) -> None:
    """One edit that must make the manifest invalid."""
    d = doc.data
    principals, teams = d["principals"], d["teams"]
    first = next(iter(principals))
    team = next(iter(teams.values()))
    hsm = next(iter(d["hsms"]))
    kind = choice % 9
    if kind == 0:  # a lookalike principal with another id
        principals[_lookalike(first, pick)] = {"type": "User", "id": OTHER_ID}
    elif kind == 1:  # a name that is not a name (markup, spaces, empty, accents)
        markup = MARKUP[pick % len(MARKUP)]
        principals[markup + first if markup and pick % 2 else markup] = {"type": "Group", "id": OTHER_ID}
    elif kind == 2:  # a member written with whitespace or another case
        team["members"] = [_lookalike(team["members"][0], pick), *team["members"][1:]]
    elif kind == 3:
        team["data"].append({"hsm": hsm, "role": "Crypto User", "scope": ODD_DATA_SCOPES[pick % 10]})
    elif kind == 4:
        team["management"].append({"role": "Reader", "scope": ODD_ARM_SCOPES[pick % len(ODD_ARM_SCOPES)]})
    elif kind == 5:  # a role reference with invisible or surrounding whitespace
        team["data"].append({"hsm": hsm, "role": "Crypto" + WHITESPACE[pick % 7] + "User", "scope": "/"})
        team["data"][-1]["role"] = team["data"][-1]["role"].replace("Crypto User", " Crypto User")
    elif kind == 6:  # a custom role that takes a built-in's name
        builtin = DATA_REFS[pick % len(DATA_REFS)][0]
        d["roles"] = {"mine": {"hsm": hsm, "name": builtin, "data_actions": ["keys/sign/action"]}}
    elif kind == 7:  # a lookalike team
        teams[_lookalike(next(iter(teams)), pick)] = {"members": [first]}
    else:  # an HSM reference that is not exactly the HSM's name
        team["data"].append({"hsm": _lookalike(hsm, pick), "role": "Crypto User", "scope": "/"})
    doc.spoiled.append(f"edit {kind}")


RAW_EDITS = [
    ("anchor", lambda t: t.replace("teams:", "teams: &t", 1)),
    ("tag", lambda t: t.replace("version: 1", "version: !!int 1", 1)),
    ("merge", lambda t: t.replace("teams:\n", "teams:\n  <<: {}\n", 1)),
    ("latin-1", lambda t: t + "# caf\udce9\n"),
    ("nul", lambda t: t + "\0"),
    ("deep", lambda t: t + "x: " + "[" * 40 + "]" * 40 + "\n"),
    ("second-document", lambda t: t + "---\nversion: 1\n"),
]


def _state(hsm_name: str) -> str:
    hsm = {"url": URL, "resource_id": HSM_RID, "keys": ["k1", "app-signing"], "role_assignments": []}
    return json.dumps({"version": 1, "hsms": {hsm_name: hsm}, "arm": {"role_assignments": []}})


def _expected(doc: Doc, guids: dict[str, str]) -> set[tuple[str, ...]]:
    """What the manifest means, worked out here from the catalog data: (plane, scope, role, principal)."""
    out: set[tuple[str, ...]] = set()
    refs = dict(DATA_REFS)
    for team in doc.data["teams"].values():
        for member in team["members"]:
            pid = doc.data["principals"][member]["id"]
            for a in team["data"]:
                role = guids[a["role"]] if a["role"] in doc.custom else refs[a["role"]]
                out.add(("data", a["scope"], role, pid))
            for a in team["management"]:
                out.add(("management", a["scope"], dict(MGMT_REFS)[a["role"]], pid))
    return out


def _check_refused(result: Any, why: str) -> None:
    assert result.exit_code == 1, f"accepted although {why}:\n{result.stdout}"
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert re.search(r"hsmsync\.yaml:\d+: ", result.stderr), result.stderr


def _check_meaning(doc: Doc, cwd: Path) -> None:
    plan = run_cli("plan", "--state", "s.json", "--format", "json", "-q", cwd=cwd)
    assert plan.exit_code == 0, plan.stderr
    changes = json.loads(plan.stdout)["changes"]
    guids = {c["role"]: c["role_id"] for c in changes if c["kind"] == "role_definition"}
    guids = {key: guids[name] for key, name in doc.custom.items() if name in guids}
    shown = set()
    for c in changes:
        if c["kind"] != "role_assignment":
            continue
        assert c["action"] == "create"
        # the displayed principal is the declared name of exactly that id
        assert doc.data["principals"][c["principal"]]["id"] == c["principal_id"]
        # the displayed role is the name of exactly that role id
        custom_names = {guids[k]: n for k, n in doc.custom.items() if k in guids}
        assert c["role"] == {**BUILTIN_DATA, **BUILTIN_MGMT, **custom_names}[c["role_id"]]
        shown.add((c["plane"], c["scope"], c["role_id"], c["principal_id"]))
    assert shown == _expected(doc, guids)
    applied = run_cli("apply", "--state", "s.json", "--auto-approve", "--allow-lockout", "-q", cwd=cwd)
    assert applied.exit_code == 0, applied.stderr + applied.stdout
    state = json.loads((cwd / "s.json").read_text())
    sent = {
        ("data", a["scope"], a["role_definition_id"], a["principal_id"])
        for a in state["hsms"][next(iter(doc.data["hsms"]))]["role_assignments"]
    }
    sent |= {
        ("management", a["scope"], a["role_definition_id"], a["principal_id"])
        for a in state["arm"]["role_assignments"]
    }
    assert sent == shown


def _run(doc: Doc, text: str | bytes, why: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        (cwd / "hsmsync.yaml").write_bytes(raw)
        (cwd / "s.json").write_text(_state(next(iter(doc.data["hsms"]))))
        result = run_cli("validate", cwd=cwd)
        if why is not None:
            _check_refused(result, why)
            return
        assert result.exit_code == 0, f"{result.stderr}\n{text!r}"
        _check_meaning(doc, cwd)


def _dump(doc: Doc) -> str:
    return yaml.safe_dump(doc.data, allow_unicode=True, sort_keys=False, width=4096)


@FUZZ
@given(clean_docs(), st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 10_000))
def test_the_plan_shows_what_is_sent_and_spoiled_manifests_are_refused(
    doc: Doc, spoils: int, choice: int, pick: int
):
    for i in range(spoils):
        spoil(doc, choice + i, pick + i)
    _run(doc, _dump(doc), ", ".join(doc.spoiled) or None)


@FUZZ
@given(clean_docs(), st.sampled_from(RAW_EDITS), st.booleans())
def test_hostile_yaml_text_is_refused_with_a_line(doc: Doc, edit: Any, flow: bool):
    text = yaml.safe_dump(doc.data, allow_unicode=True, default_flow_style=flow or None, width=4096)
    name, change = edit
    spoiled = change(text)
    assume(spoiled != text)  # e.g. no block `teams:` line in flow style
    _run(doc, spoiled, f"raw edit {name}")
