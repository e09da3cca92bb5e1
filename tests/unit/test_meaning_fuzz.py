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

Examples per test: HSMSYNC_FUZZ_EXAMPLES (default 100; a fifth of it, at least 10, per kind of
spoiling edit); a longer run, e.g. `HSMSYNC_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/unit/test_meaning_fuzz.py`.
Each safeguard was checked to be needed: with lenient data or ARM scopes, without the lookalike-name
check or without the role-name check, the default run fails.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
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
OTHER_ID = "00000000-0000-4000-8000-0000000000aa"

# Valid names, including ones YAML would read as another type unless quoted.
names = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True),
    st.sampled_from(["no", "yes", "true", "null", "1.0", "0x1F", "1e3", "0o17", "on", "a.b", "x"]),
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


VAULT_RID = f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v"
VAULT_URL = "https://v.vault.azure.net"
KEY_PERMISSIONS = [["get"], ["get", "list"], ["sign", "verify"], ["wrapKey", "unwrapKey"]]
HOSTILE_SNIPPETS = [
    " ",
    "\t",
    "\u00a0",
    "\u3000",
    "\u200b",
    "\n",
    "\n  ",
    "&a ",
    "*a",
    "!!str ",
    "<<: ",
    "#",
    "'",
    '"',
    "/",
    "..",
    "//",
    "-",
    ":",
    "{",
    "]",
    "\\",
    "é",
    "ａ",
    "<!--",
    "`",
    "|",
    "\x85",
    "\ufeff",
    "\r",
]


pytestmark = pytest.mark.slow  # hypothesis over whole manifests: seconds per test


@dataclass
class Doc:
    data: dict[str, Any]
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
    types = [draw(st.sampled_from(PRINCIPAL_TYPES)) for _ in keys]
    principals = {k: {"type": t, "id": str(i)} for k, t, i in zip(keys, types, ids, strict=True)}
    hsm = draw(names)
    data: dict[str, Any] = {
        "version": 1,
        "principals": principals,
        "hsms": {hsm: {"url": URL, "resource_id": HSM_RID}},
    }
    data_refs, mgmt_refs = list(DATA_REFS), list(MGMT_REFS)
    if draw(st.booleans()):  # a custom data-plane role
        key = draw(names.filter(lambda n: n not in keys))
        name = draw(display_names.filter(lambda t: t.casefold() != key.casefold()))
        data["roles"] = {key: {"hsm": hsm, "name": name, "data_actions": ["keys/sign/action"]}}
        data_refs.append((key, "custom"))
    if draw(st.booleans()):  # a custom Azure role, assignable at the subscription
        key = draw(names.filter(lambda n: n not in keys))
        name = draw(display_names.filter(lambda t: t.casefold() != key.casefold()))
        actions = ["Microsoft.Compute/virtualMachines/read"]
        data["arm_roles"] = {key: {"name": name, "actions": actions, "assignable_scopes": [SUB]}}
        mgmt_refs.append((key, "custom"))
    if draw(st.booleans()):  # a Key Vault with access policies
        holders = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
        policies = {k: {"keys": draw(st.sampled_from(KEY_PERMISSIONS))} for k in holders}
        data["vaults"] = {
            draw(names): {"url": VAULT_URL, "resource_id": VAULT_RID, "access_policies": policies}
        }
    teams: dict[str, Any] = {}
    for team in draw(st.lists(names, min_size=1, max_size=3, unique_by=str.casefold)):
        members = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
        entries = draw(
            st.lists(st.tuples(st.sampled_from(data_refs), st.sampled_from(DATA_SCOPES)), max_size=3)
        )
        mgmt = draw(st.lists(st.tuples(st.sampled_from(mgmt_refs), st.sampled_from(ARM_SCOPES)), max_size=2))
        # a custom Azure role only where it is assignable (the subscription and below)
        mgmt = [(r, s) for r, s in mgmt if r[1] != "custom" or s.startswith(SUB)]
        teams[team] = {
            "members": members,
            # one entry per (role text, scope): the same line twice is a duplicate, reported as such
            "data": [{"hsm": hsm, "role": r, "scope": s} for r, s in _once(entries)],
            "management": [{"role": r, "scope": s} for r, s in _once(mgmt)],
        }
    data["teams"] = teams
    return Doc(data)


def _lookalike(name: str, how: int) -> str:
    variants = [name + w for w in WHITESPACE] + [w + name for w in WHITESPACE[:3]]
    variants += [name.swapcase() if name.swapcase() != name else name.upper() + "\u00a0"]
    variants += ["".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)]  # full width
    return variants[how % len(variants)]


def _name_keyed(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every name-keyed mapping present in the document."""
    out = [data[s] for s in ("principals", "hsms", "roles", "arm_roles", "vaults", "teams") if data.get(s)]
    return out + [v["access_policies"] for v in data.get("vaults", {}).values()]


SPOIL_KINDS = 10


def spoil(doc: Doc, kind: int, pick: int) -> None:
    """One edit that must make the manifest invalid."""
    d = doc.data
    principals, teams = d["principals"], d["teams"]
    first = next(iter(principals))
    team = next(iter(teams.values()))
    hsm = next(iter(d["hsms"]))
    if kind == 0:  # a lookalike key in any name-keyed mapping
        sections = _name_keyed(d)
        mapping = sections[pick % len(sections)]
        key = next(iter(mapping))
        mapping[_lookalike(key, pick // len(sections))] = mapping[key]
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
        role = ["Crypto User ", " crypto user", "Crypto\tUser", "Crypto\u200bUser", "crypto\u00a0user"][
            pick % 5
        ]
        team["data"].append({"hsm": hsm, "role": role, "scope": "/"})
    elif kind == 6:  # a custom role that takes a built-in's name, or names another custom role's key
        builtin = DATA_REFS[pick % len(DATA_REFS)][0]
        d["roles"] = {
            "mine": {"hsm": hsm, "name": builtin, "data_actions": ["keys/sign/action"]},
            f"zed{pick}": {"hsm": hsm, "name": "Zed", "data_actions": ["keys/sign/action"]},
        }
        if pick % 2:
            d["roles"]["mine"]["name"] = f"ZED{pick}"
    elif kind == 7:  # an HSM reference that is not exactly the HSM's name
        team["data"].append({"hsm": _lookalike(hsm, pick), "role": "Crypto User", "scope": "/"})
    elif kind == 8:  # a custom Azure role that takes a built-in's name (by key or by name)
        builtin = MGMT_REFS[pick % len(MGMT_REFS)][0]
        arm_role = {"name": builtin, "actions": ["a/b"], "assignable_scopes": [SUB]}
        d["arm_roles"] = {"owner": {**arm_role, "name": "Mine"}} if pick % 2 else {"mine": arm_role}
    else:  # an access policy for a lookalike of a principal
        policies = {_lookalike(first, pick): {"keys": ["get"]}}
        d["vaults"] = {"v": {"url": VAULT_URL, "resource_id": VAULT_RID, "access_policies": policies}}
    doc.spoiled.append(f"edit {kind}")


RAW_EDITS = [
    ("anchor", lambda t: t.replace("teams:", "teams: &t", 1)),
    ("tag", lambda t: t.replace("version: 1", "version: !!int 1", 1)),
    ("merge", lambda t: t.replace("teams:\n", "teams:\n  <<: {}\n", 1)),
    ("latin-1", lambda t: t + "# caf\udce9\n"),
    ("nul", lambda t: t + "\0"),
    ("deep", lambda t: t + "x: " + "[" * 40 + "]" * 40 + "\n"),
    ("second-document", lambda t: t + "---\nversion: 1\n"),
    ("utf-16", lambda t: "\ufeff" + t + "\udcff\udcfe"),
]


def _state(data: dict[str, Any]) -> str:
    """An empty live state holding the manifest's HSMs and vaults (as the file backend needs them)."""
    hsms = {
        name: {
            "url": h.get("url", URL),
            "resource_id": h.get("resource_id", ""),
            "keys": ["k1", "app-signing"],
        }
        for name, h in data.get("hsms", {}).items()
    }
    vaults = {
        name: {"url": v.get("url"), "resource_id": v.get("resource_id"), "access_policies": []}
        for name, v in (data.get("vaults") or {}).items()
    }
    return json.dumps({"version": 1, "hsms": hsms, "vaults": vaults, "arm": {"role_assignments": []}})


class Unresolvable(Exception):
    """The oracle cannot tell what a reference means: hsmsync should have refused the manifest."""


def _data_role(data: dict[str, Any], hsm: str, ref: str) -> str:
    custom = {k: r["name"] for k, r in (data.get("roles") or {}).items() if r.get("hsm") == hsm}
    if ref in custom:
        return f"custom:{custom[ref]}"
    by_name = {n.casefold(): g for n, g in DATA_REFS} | {n.casefold(): f"custom:{n}" for n in custom.values()}
    if ref.casefold() not in by_name:
        raise Unresolvable(ref)
    return str(by_name[ref.casefold()])


def _mgmt_role(data: dict[str, Any], ref: str) -> str:
    custom = {k: r["name"] for k, r in (data.get("arm_roles") or {}).items()}
    by_name = {n.casefold(): g for n, g in MGMT_REFS}
    by_name |= {k.casefold(): f"custom:{n}" for k, n in custom.items()}
    by_name |= {n.casefold(): f"custom:{n}" for n in custom.values()}
    if ref.casefold() not in by_name:
        raise Unresolvable(ref)
    return str(by_name[ref.casefold()])


def _meaning(data: dict[str, Any]) -> set[tuple[str, ...]]:
    """What the manifest means, worked out here from the plain document and the catalog's data:
    (plane, target, scope, role, principal id); a custom role is 'custom:<its display name>'."""
    out: set[tuple[str, ...]] = set()
    principals = data["principals"]
    for team in data.get("teams", {}).values():
        for member in team["members"]:
            pid = principals[member]["id"]
            for a in team.get("data") or []:
                out.add(("data", a["hsm"], a.get("scope", "/"), _data_role(data, a["hsm"], a["role"]), pid))
            for a in team.get("management") or []:
                out.add(("management", "arm", a["scope"], _mgmt_role(data, a["role"]), pid))
    return out


def _policies_meant(data: dict[str, Any]) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for name, vault in (data.get("vaults") or {}).items():
        for key, perms in (vault.get("access_policies") or {}).items():
            keys = ",".join(sorted(p.casefold() for p in perms.get("keys", [])))
            out.add((name, data["principals"][key]["id"], keys))
    return out


def _role(role_id: str, customs: dict[str, str]) -> str:
    """A role id as the oracle names roles: a built-in's GUID, or 'custom:<display name>'."""
    if role_id in BUILTIN_DATA or role_id in BUILTIN_MGMT:
        return role_id
    return f"custom:{customs[role_id]}"


def _shown(changes: list[dict[str, Any]], data: dict[str, Any]) -> set[tuple[str, ...]]:
    """The assignments the JSON plan displays, each checked to name its principal and role truly."""
    customs = {c["role_id"]: c["role"] for c in changes if c["kind"] == "role_definition"}
    names = {**BUILTIN_DATA, **BUILTIN_MGMT, **customs}
    shown: set[tuple[str, ...]] = set()
    for c in changes:
        if c["kind"] != "role_assignment":
            continue
        assert c["action"] == "create"
        # the displayed principal is the declared name of exactly that id, the role that id's name
        assert data["principals"][c["principal"]]["id"] == c["principal_id"]
        assert c["role"] == names[c["role_id"]]
        shown.add((c["plane"], c["target"], c["scope"], _role(c["role_id"], customs), c["principal_id"]))
    return shown


def _sent(state: dict[str, Any]) -> set[tuple[str, ...]]:
    """What the file backend received, in the same terms."""
    sent: set[tuple[str, ...]] = set()
    for name, hsm in state["hsms"].items():
        customs = {r["name"]: r["role_name"] for r in hsm.get("role_definitions", [])}
        for a in hsm.get("role_assignments", []):
            sent.add(("data", name, a["scope"], _role(a["role_definition_id"], customs), a["principal_id"]))
    customs = {r["name"]: r["role_name"] for r in state["arm"].get("role_definitions", [])}
    for a in state["arm"].get("role_assignments", []):
        sent.add(
            ("management", "arm", a["scope"], _role(a["role_definition_id"], customs), a["principal_id"])
        )
    return sent


def _check_refused(result: Any, why: str) -> None:
    assert result.exit_code == 1, f"accepted although {why}:\n{result.stdout}"
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert re.search(r"hsmsync\.yaml:\d+: ", result.stderr), result.stderr


# Managed HSM's documented limit of role assignments at one key's scope ('/keys/<name>').
ASSIGNMENTS_PER_KEY = 10


def _check_meaning(data: dict[str, Any], cwd: Path) -> None:
    plan = run_cli("plan", "--state", "s.json", "--format", "json", "-q", cwd=cwd)
    per_key = Counter(
        (hsm, scope) for plane, hsm, scope, _, _ in _meaning(data) if scope.startswith("/keys/")
    )
    if any(n > ASSIGNMENTS_PER_KEY for n in per_key.values()):
        # More than the service takes: refused before anything is sent, never half applied.
        assert plan.exit_code == 1 and "the limit per key is 10" in plan.stderr, plan.stderr
        event("refused: over the per-key assignment limit")
        return
    assert plan.exit_code == 0, plan.stderr
    changes = json.loads(plan.stdout)["changes"]
    shown = _shown(changes, data)
    assert shown == _meaning(data)
    policies = {c["principal_id"]: c for c in changes if c["kind"] == "access_policy"}
    for pid, c in policies.items():
        assert data["principals"][c["principal"]]["id"] == pid == c["payload"]["object_id"]
    applied = run_cli("apply", "--state", "s.json", "--auto-approve", "--allow-lockout", "-q", cwd=cwd)
    assert applied.exit_code == 0, applied.stderr + applied.stdout
    state = json.loads((cwd / "s.json").read_text())
    assert _sent(state) == shown
    held = {
        (name, p["object_id"], ",".join(sorted(k.casefold() for k in p["keys"])))
        for name, v in state["vaults"].items()
        for p in v.get("access_policies", [])
    }
    assert held == _policies_meant(data)
    assert {pid for _, pid, _ in held} == set(policies)


def _run(text: str, why: str | None, *, mutated: bool = False) -> None:
    """Validate `text`; refused iff `why`; if accepted, check what it means end to end."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "hsmsync.yaml").write_bytes(text.encode("utf-8", "surrogateescape"))
        result = run_cli("validate", cwd=cwd)
        if why is not None or (mutated and result.exit_code != 0):
            _check_refused(result, why or "")
            event("refused")
            return
        event("accepted: meaning checked")
        assert result.exit_code == 0, f"{result.stderr}\n{text!r}"
        # an independent reading of the same text: PyYAML's own loader, on the parser the product
        # uses (libyaml's where PyYAML has it: it accepts a few inputs, e.g. a tab before ':',
        # that the pure-Python parser refuses)
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        (cwd / "s.json").write_text(_state(data))
        try:
            _meaning(data)
        except Unresolvable as exc:
            raise AssertionError(f"accepted an unresolvable reference {exc}:\n{text}") from None
        _check_meaning(data, cwd)


class _NoAliases(yaml.SafeDumper):
    """Shared objects are written out each time (a manifest may not hold anchors); strings that
    YAML 1.2 reads as numbers (`1e3`, `0o17`) are quoted, as PyYAML would not."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_str(self, data: str) -> yaml.ScalarNode:
        if re.fullmatch(r"0o[0-7]+|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?", data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)


_NoAliases.add_representer(str, _NoAliases.represent_str)


def _dump(doc: Doc, flow: bool = False) -> str:
    style = flow or None
    return yaml.dump(
        doc.data, Dumper=_NoAliases, allow_unicode=True, sort_keys=False, width=4096, default_flow_style=style
    )


@FUZZ
@given(clean_docs())
def test_the_plan_shows_what_is_sent_and_what_the_manifest_means(doc: Doc):
    _run(_dump(doc), None)


@pytest.mark.parametrize("kind", range(SPOIL_KINDS))
@settings(FUZZ, max_examples=max(EXAMPLES // 5, 10))
@given(doc=clean_docs(), pick=st.integers(0, 10_000))
def test_spoiled_manifests_are_refused_with_a_line(kind: int, doc: Doc, pick: int):
    spoil(doc, kind, pick)
    _run(_dump(doc), ", ".join(doc.spoiled))


@FUZZ
@given(clean_docs(), st.sampled_from(RAW_EDITS), st.booleans())
def test_hostile_yaml_text_is_refused_with_a_line(doc: Doc, edit: Any, flow: bool):
    text = _dump(doc, flow)
    name, change = edit
    spoiled = change(text)
    assume(spoiled != text)  # e.g. no block `teams:` line in flow style
    _run(spoiled, f"raw edit {name}")


@FUZZ
@given(
    clean_docs(), st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(HOSTILE_SNIPPETS)), max_size=3)
)
def test_any_edit_of_the_text_is_refused_with_a_line_or_means_what_it_says(
    doc: Doc, edits: list[tuple[int, str]]
):
    text = _dump(doc)
    for at, snippet in edits:
        at %= len(text) + 1
        text = text[:at] + snippet + text[at:]
    _run(text, None, mutated=True)
