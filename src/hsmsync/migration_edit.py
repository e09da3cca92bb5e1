"""`hsmsync migrate`'s manifest change: the vault gains `rbac: true` and loses its access policies;
each proposed role becomes a team (`management:` assignment at the vault) and each generated custom
role an `arm_roles` entry.

Written as a text edit, so every other byte of the file stays as it was (a pull request shows only
the migration): the `access_policies` block is replaced by `rbac: true`, and the new entries are
added at the end of `teams` and `arm_roles` (or as new sections at the end). The result must read
as the intended document; where a layout defeats the text edit (flow style, a team of the same
name already there), ruamel.yaml's round trip writes it instead (comments and order kept, spacing
may be normalised). Either way it is parsed as a manifest before anyone sees it.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import re
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from hsmsync.core.errors import HsmsyncError
from hsmsync.core.vault_migration import ProposedRole, VaultMigration, slug
from hsmsync.manifest import parse_manifest

COMMENT = "moved from access policies by `hsmsync migrate` (review, then `hsmsync migrate --apply`)"
CUSTOM_ROLE_DESCRIPTION = "Data access that no Key Vault built-in role gives exactly (hsmsync migrate)"
Entries = dict[str, dict[str, Any]]


class _EditFailed(Exception):
    pass


def _round_trip() -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # resource ids stay on one line
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def role_key(migration: VaultMigration, role: ProposedRole) -> str:
    """The manifest key of a generated custom role, and of the team holding any proposed role."""
    if role.builtin:
        return f"{migration.vault}-{slug(role.role_name)}"
    perms = role.role_name.split(": ", 1)[-1]
    key = slug(f"{migration.vault} {perms}")
    if len(key) <= 100:
        return key
    # Cut short, two permission sets could share a key (and one identity get the other's role):
    # the digest of the whole set keeps each its own.
    digest = hashlib.sha256(role.role_name.encode()).hexdigest()[:12]
    return f"{key[:87].rstrip('-')}-{digest}"


def additions(migration: VaultMigration) -> tuple[Entries, Entries]:
    """(new `arm_roles` entries, new `teams` entries), by key, as plain data."""
    roles: Entries = {}
    teams: Entries = {}
    rid = migration.resource_id
    for identity in migration.identities:
        assert identity.name is not None
        for role in identity.roles:
            key, reference = role_key(migration, role), role.role_name
            if not role.builtin:
                reference = key
                roles.setdefault(
                    key,
                    {
                        "name": role.role_name,
                        "description": CUSTOM_ROLE_DESCRIPTION,
                        "data_actions": list(role.data_actions),
                        "assignable_scopes": [rid],
                    },
                )
            team = teams.setdefault(key, {"members": [], "management": [{"role": reference, "scope": rid}]})
            if identity.name not in team["members"]:
                team["members"].append(identity.name)
    return roles, teams


def _free_key(key: str, taken: Any) -> str:
    n = 2
    while f"{key}-{n}" in taken:
        n += 1
    return f"{key}-{n}"


def _unclashed(doc: Any, roles: Entries, teams: Entries) -> tuple[Entries, Entries]:
    """The additions keyed so that none lands on a different entry the manifest already has: a
    team of that key is joined only when it assigns exactly the proposed role at the vault (joining
    another would give its roles instead), an `arm_roles` entry is reused only when identical."""
    existing_roles = _plain(doc.get("arm_roles") or {}) if isinstance(doc, dict) else {}
    existing_teams = _plain(doc.get("teams") or {}) if isinstance(doc, dict) else {}
    renamed: dict[str, str] = {}
    out_roles: Entries = {}
    for key, entry in roles.items():
        if key in existing_roles and existing_roles[key] != entry:
            renamed[key] = _free_key(key, existing_roles)
        out_roles[renamed.get(key, key)] = entry
    out_teams: Entries = {}
    for key, entry in teams.items():
        management = [{**m, "role": renamed.get(m["role"], m["role"])} for m in entry["management"]]
        entry = {**entry, "management": management}
        found = existing_teams.get(key)
        same = isinstance(found, dict) and {k: v for k, v in found.items() if k != "members"} == {
            "management": management
        }
        if key in existing_teams and not same:
            key = _free_key(key, existing_teams)
        out_teams[key] = entry
    return out_roles, out_teams


def _scalar(value: Any) -> Any:
    """A string the manifest's reader (PyYAML, YAML 1.1) would not read back as itself when plain
    (a principal named `yes`, `on`, `1e3`...: ruamel writes YAML 1.2) is written quoted."""
    if not isinstance(value, str):
        return value
    try:
        plain = yaml.safe_load(value)
    except yaml.YAMLError:
        plain = None
    return value if plain == value else SingleQuotedScalarString(value)


def _commented(value: Any) -> Any:
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[_scalar(k)] = _commented(v)
        return out
    if isinstance(value, list):
        return CommentedSeq([_commented(v) for v in value])
    return _scalar(value)


def _edit_doc(doc: CommentedMap, vault_name: str, roles: Entries, teams: Entries) -> None:
    """The intended document (and the fallback's): ruamel's round-trip data, edited."""
    vault = doc["vaults"][vault_name]
    vault["rbac"] = True
    if "access_policies" in vault:
        del vault["access_policies"]
    for section, entries in (("arm_roles", roles), ("teams", teams)):
        if not entries:
            continue
        if doc.get(section) is None:
            doc[section] = CommentedMap()
        node = doc[section]
        for key, entry in entries.items():
            if key in node and section == "teams":
                members = node[key].setdefault("members", CommentedSeq())
                members.extend(_scalar(m) for m in entry["members"] if m not in members)
            elif key not in node:
                node[key] = _commented(entry)
                node.yaml_set_comment_before_after_key(key, before=COMMENT, indent=2)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _entry_end(lines: list[str], start: int, col: int) -> int:
    """The line after the last line of the block entry whose key is at (start, col); blank and
    comment lines after it belong to what follows."""
    last = start
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or (stripped.startswith("#") and _indent(lines[i]) <= col):
            continue
        if _indent(lines[i]) <= col:
            break
        last = i
    return last + 1


def _block(node: Any) -> CommentedMap:
    if not isinstance(node, CommentedMap) or node.fa.flow_style() or not node:
        raise _EditFailed("not a block mapping")
    return node


def _entries_text(entries: Entries, col: int, nl: str) -> list[str]:
    out: list[str] = []
    for key, entry in entries.items():
        buf = io.StringIO()
        _round_trip().dump(_commented({key: entry}), buf)
        out.append(" " * col + "# " + COMMENT + nl)
        out += [(" " * col + line if line.strip() else "") + nl for line in buf.getvalue().splitlines()]
    return out


def _text_edit(text: str, doc: CommentedMap, vault_name: str, roles: Entries, teams: Entries) -> str:
    lines = text.splitlines(keepends=True)
    nl = "\r\n" if "\r\n" in text else "\n"
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl
    edits: list[tuple[int, int, list[str]]] = []  # (from line, to line, replacement)
    vaults = _block(doc["vaults"])
    vault = _block(vaults[vault_name])
    first_col = vault.lc.key(next(iter(vault)))[1]
    if "rbac" in vault:
        line = vault.lc.key("rbac")[0]
        edits.append((line, line + 1, [re.sub(r"^(\s*rbac\s*:\s*)[^\s#]+", r"\g<1>true", lines[line])]))
        rbac_line: list[str] = []
    else:
        rbac_line = [" " * first_col + "rbac: true" + nl]
    if "access_policies" in vault:
        start, col = vault.lc.key("access_policies")
        edits.append((start, _entry_end(lines, start, col), rbac_line))
    elif rbac_line:
        end = _entry_end(lines, *vaults.lc.key(vault_name))
        edits.append((end, end, rbac_line))
    tail: list[str] = []
    for section, entries in (("arm_roles", roles), ("teams", teams)):
        if not entries:
            continue
        if section not in doc:
            tail += [nl, f"{section}:{nl}", *_entries_text(entries, 2, nl)]
            continue
        node = _block(doc[section])
        if set(entries) & set(node):
            raise _EditFailed(f"{section} already has such a key")
        col = node.lc.key(next(iter(node)))[1]
        end = _entry_end(lines, doc.lc.key(section)[0], 0)
        edits.append((end, end, _entries_text(entries, col, nl)))
    for start, end, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[start:end] = replacement
    return "".join(lines + tail)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def migrated_text(text: str, display: Path, migration: VaultMigration) -> str:
    """The manifest `text` with `migration` written in; refuses identities it cannot name."""
    unnamed = [i.object_id for i in migration.identities if i.name is None]
    if unnamed:
        raise HsmsyncError(
            f"vault {migration.vault}: access policies of object ids the manifest does not declare: "
            f"{', '.join(unnamed)}; declare each under `principals` (with its id), then run migrate again"
        )
    try:
        doc, expected = _round_trip().load(text), _round_trip().load(text)
        roles, teams = _unclashed(doc, *additions(migration))
        _edit_doc(expected, migration.vault, roles, teams)
    except (RuamelError, KeyError, TypeError, AttributeError) as exc:
        raise HsmsyncError(f"{display}: cannot edit vault {migration.vault}: {exc}") from None
    try:
        edited = _text_edit(text, doc, migration.vault, roles, teams)
        if _plain(_round_trip().load(edited)) != _plain(expected):
            raise _EditFailed("the edited text reads differently")
    except (_EditFailed, RuamelError, KeyError, IndexError, TypeError, AttributeError, StopIteration):
        out = io.StringIO()
        _round_trip().dump(expected, out)
        edited = out.getvalue()
    parse_manifest(edited, display)  # the edit must be a valid manifest (errors name file and line)
    return edited


def unified_diff(old: str, new: str, display: Path) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{display}", f"b/{display}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
