"""who-can and explain answers as JSON (see render/contract.py): what would be (the manifest) and,
when live state was read, what is."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hsmsync.core.access import ExplainedGrant, Explanation
from hsmsync.core.explain import ExplainedPolicy
from hsmsync.core.whocan import WhoCan
from hsmsync.render.contract import document


def render_whocan(question: str, would_be: WhoCan, is_now: WhoCan | None) -> str:
    """`is_now` is None when live state was not read. `would_be`/`is_now` list who holds the action
    (each path with its `status` and group hops `through`); `*_can_obtain` who can grant it itself."""
    return document(
        "whocan",
        {
            "question": question,
            "would_be": [asdict(p) for p in would_be.holds],
            "would_be_can_obtain": [asdict(p) for p in would_be.can_obtain],
            "is_now": None if is_now is None else [asdict(p) for p in is_now.holds],
            "is_now_can_obtain": None if is_now is None else [asdict(p) for p in is_now.can_obtain],
        },
    )


def _grant(item: ExplainedGrant) -> dict[str, Any]:
    g = item.grant
    return {
        "plane": g.plane.value,
        "target": g.target,
        "scope": g.scope,
        "role": g.role_name,
        "role_id": g.role_id,
        "via": g.via,
        "can": item.summary,
        "data_actions": sorted(g.data_actions),
        "actions": list(g.actions),
        "not_needed": list(item.unneeded),
        "through": list(item.through),
        "status": item.status,
        "condition": g.condition,
    }


def _policy(item: ExplainedPolicy) -> dict[str, Any]:
    p = item.policy
    return {
        "vault": p.vault,
        "via": p.via,
        "application_id": p.application_id,
        "permissions": {kind: list(names) for kind, names in p.permissions},
        "can": p.summary(),
        "ignored": p.ignored,
        "notes": list(item.notes),
    }


def _explanation(e: Explanation) -> dict[str, Any]:
    return {
        "principal": e.principal,
        "principal_id": e.principal_id,
        "principal_type": e.principal_type,
        "has_access": e.has_access,
        "grants": [_grant(g) for g in e.grants],
        "policies": [_policy(p) for p in e.policies],
        "can_obtain": list(e.obtainable),
    }


def render_explain(would_be: Explanation, is_now: Explanation | None) -> str:
    body = {"would_be": _explanation(would_be), "is_now": None if is_now is None else _explanation(is_now)}
    return document("explain", body)
