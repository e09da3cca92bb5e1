"""`hsmsync migrate`'s manifest change: the vault gains `rbac: true` and loses its access policies;
each proposed role becomes a team (`management:` assignment at the vault) and each generated custom
role an `arm_roles` entry. Written with ruamel.yaml's round trip, so comments and order stay (its
spacing may be normalised); the result is read back as a manifest before anyone sees it.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError

from hsmsync.core.errors import HsmsyncError
from hsmsync.core.vault_migration import ProposedRole, VaultMigration, slug
from hsmsync.manifest import parse_manifest

COMMENT = "moved from access policies by `hsmsync migrate` (review, then `hsmsync migrate --apply`)"


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
    return slug(f"{migration.vault} {perms}")[:100].rstrip("-")


def _mapping(parent: CommentedMap, key: str) -> CommentedMap:
    node = parent.get(key)
    if node is None:
        node = CommentedMap()
        parent[key] = node
    if not isinstance(node, CommentedMap):
        raise HsmsyncError(f"manifest: '{key}' must be a mapping to add the migration's entries")
    return node


def _add_custom_role(arm_roles: CommentedMap, key: str, role: ProposedRole, resource_id: str) -> None:
    if key in arm_roles:
        return
    entry = CommentedMap()
    entry["name"] = role.role_name
    entry["description"] = "Data access that no Key Vault built-in role gives exactly (hsmsync migrate)"
    entry["data_actions"] = CommentedSeq(role.data_actions)
    entry["assignable_scopes"] = CommentedSeq([resource_id])
    arm_roles[key] = entry
    arm_roles.yaml_set_comment_before_after_key(key, before=COMMENT, indent=2)


def _add_member(teams: CommentedMap, key: str, role: str, scope: str, member: str) -> None:
    team = teams.get(key)
    if team is None:
        team = CommentedMap()
        team["members"] = CommentedSeq()
        assignment = CommentedMap()
        assignment["role"] = role
        assignment["scope"] = scope
        team["management"] = CommentedSeq([assignment])
        teams[key] = team
        teams.yaml_set_comment_before_after_key(key, before=COMMENT, indent=2)
    if member not in team["members"]:
        team["members"].append(member)


def migrated_text(text: str, display: Path, migration: VaultMigration) -> str:
    """The manifest `text` with `migration` written in; refuses identities it cannot name."""
    unnamed = [i.object_id for i in migration.identities if i.name is None]
    if unnamed:
        raise HsmsyncError(
            f"vault {migration.vault}: access policies of object ids the manifest does not declare: "
            f"{', '.join(unnamed)}; declare each under `principals` (with its id), then run migrate again"
        )
    try:
        doc = _round_trip().load(text)
        vault = doc["vaults"][migration.vault]
    except (RuamelError, KeyError, TypeError) as exc:
        raise HsmsyncError(f"{display}: cannot edit vault {migration.vault}: {exc}") from None
    vault["rbac"] = True
    if "access_policies" in vault:
        del vault["access_policies"]
    arm_roles: CommentedMap | None = None
    teams = _mapping(doc, "teams")
    for identity in migration.identities:
        assert identity.name is not None
        for role in identity.roles:
            key = role_key(migration, role)
            reference = role.role_name
            if not role.builtin:
                arm_roles = arm_roles if arm_roles is not None else _mapping(doc, "arm_roles")
                _add_custom_role(arm_roles, key, role, migration.resource_id)
                reference = key
            _add_member(teams, key, reference, migration.resource_id, identity.name)
    out = io.StringIO()
    _round_trip().dump(doc, out)
    edited = out.getvalue()
    parse_manifest(edited, display)  # the edit must be a valid manifest (errors name file and line)
    return edited


def unified_diff(old: str, new: str, display: Path) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{display}", f"b/{display}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
