"""`hsmsync migrate`: vaults on access policies, per identity its permissions, the proposed Azure
roles and what the move keeps, gains and loses; as text, JSON and markdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hsmsync.core.vault_migration import (
    NO_RBAC_EQUIVALENT,
    IdentityMigration,
    VaultMigration,
    permission_list,
)
from hsmsync.render.contract import document
from hsmsync.render.escape import md, visible


def _role_text(identity: IdentityMigration) -> list[str]:
    return [f"{r.role_name} ({r.why})" for r in identity.roles] or ["(none)"]


def _identity_text(identity: IdentityMigration) -> list[str]:
    label = visible(identity.label)
    head = label if identity.name is None else f"{label} ({identity.object_id})"
    roles = _role_text(identity)
    lines = [f"  {head}", f"    permissions: {permission_list(identity.had)}"]
    if identity.application_id:  # a compound identity: nothing in Azure RBAC gives it
        lost = f"    {NO_RBAC_EQUIVALENT}: {permission_list(identity.lost)}"
        lost += "  REFUSED: not accepted in the manifest" if identity.refused_loss else " (accepted)"
        return [*lines, lost]
    lines.append(f"    roles:       {visible(roles[0])}")
    lines += [f"                 {visible(r)}" for r in roles[1:]]
    lines.append(f"    equivalent:  {permission_list(identity.equivalent)}")
    lines.append(f"    gained:      {permission_list(identity.gained)}")
    lost = f"    lost:        {permission_list(identity.lost)}"
    if identity.accepted_loss & identity.lost:
        lost += f" (accepted: {permission_list(identity.accepted_loss & identity.lost)})"
    if identity.refused_loss:
        lost += "  REFUSED: not accepted in the manifest"
    lines.append(lost)
    return lines


def render_text(migrations: Sequence[VaultMigration], empty: str) -> str:
    if not migrations:
        return empty + "\n"
    out: list[str] = []
    for m in migrations:
        n = len(m.identities)
        out.append(
            f"Vault {visible(m.vault)} ({visible(m.resource_id)}): access policies, {n} identit"
            + ("y" if n == 1 else "ies")
        )
        for identity in m.identities:
            out += _identity_text(identity)
        out.append("")
    return "\n".join(out)


def _identity_json(identity: IdentityMigration) -> dict[str, Any]:
    return {
        "object_id": identity.object_id,
        "application_id": identity.application_id,
        "principal": identity.name,
        "permissions": sorted(identity.had),
        "roles": [
            {
                "role": r.role_name,
                "role_id": r.role_id,
                "builtin": r.builtin,
                "why": r.why,
                "data_actions": list(r.data_actions),
            }
            for r in identity.roles
        ],
        "equivalent": sorted(identity.equivalent),
        "gained": sorted(identity.gained),
        "lost": sorted(identity.lost),
        "accepted_loss": sorted(identity.accepted_loss & identity.lost),
        "refused_loss": sorted(identity.refused_loss),
    }


def render_json(migrations: Sequence[VaultMigration]) -> str:
    body: dict[str, Any] = {
        "vaults": [
            {
                "vault": m.vault,
                "resource_id": m.resource_id,
                "identities": [_identity_json(i) for i in m.identities],
            }
            for m in migrations
        ]
    }
    return document("migrate", body)


def _cell(perms: frozenset[str]) -> str:
    return md(permission_list(perms))


def render_markdown(migrations: Sequence[VaultMigration], empty: str) -> str:
    out = ["## Key Vaults still on access policies", ""]
    if not migrations:
        return "\n".join([*out, md(empty), ""])
    for m in migrations:
        out += [f"### {md(m.vault)}", "", f"`{md(m.resource_id)}`", ""]
        out += [
            "| Identity | Permissions | Proposed roles | Gained | Lost |",
            "| --- | --- | --- | --- | --- |",
        ]
        for i in m.identities:
            roles = "<br>".join(md(r.role_name) for r in i.roles) or (
                md(NO_RBAC_EQUIVALENT) if i.application_id else "(none)"
            )
            lost = _cell(i.lost) + (" **refused**" if i.refused_loss else "")
            out.append(f"| {md(i.label)} | {_cell(i.had)} | {roles} | {_cell(i.gained)} | {lost} |")
        out.append("")
    return "\n".join(out)
