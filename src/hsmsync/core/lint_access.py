"""Lint rules over effective access and time-bound grants (HSM020-HSM023).

They read what `LintSubject` carries beyond the grants: the grants followed through groups
(`effective`, when live state brings a directory), each declared grant's expiry, the manifest's
lint policy and the time (none: rules that need it are skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

from hsmsync.core.capabilities import ASSIGN_ROLES, EXPORT_OR_RELEASE, KEY_OPERATIONS, permits
from hsmsync.core.effective import EffectiveGrant, Status
from hsmsync.core.expiry import expiry_text
from hsmsync.core.grants import Grant
from hsmsync.core.lint_findings import Finding
from hsmsync.core.lint_rules import LintSubject
from hsmsync.core.plan import Plane
from hsmsync.core.scopes import data_scope_covers

ADMINISTRATOR_ROLE_ID = "a290e904-7015-4bba-90c8-60543313cdb4"
_ARM_ASSIGN = "Microsoft.Authorization/roleAssignments/write"
_KEY_ACCESS = KEY_OPERATIONS | EXPORT_OR_RELEASE
# What an escalation path is checked for: using keys and exporting them (release is Secure Key
# Release's, a service's job, and obtainable the same way).
_USE_OR_EXPORT = KEY_OPERATIONS | {"keys/export/action"}


def _can_assign_roles(g: Grant) -> bool:
    if g.plane is Plane.DATA:
        return bool(g.short_actions & ASSIGN_ROLES)
    return permits(g.permissions, _ARM_ASSIGN, data=False)


def _where(g: Grant) -> str:
    return f"{g.role_name} at {g.scope}" + (f" on {g.target}" if g.plane is Plane.DATA else "")


def _declared(s: LintSubject) -> list[Grant]:
    return [g for g in s.grants if g.key in s.expiries]


def check_admin_without_expiry(s: LintSubject) -> Iterator[Finding]:
    if not s.require_expiry_for_admin:
        return
    for g in _declared(s):
        if s.expiries[g.key] is None and _can_assign_roles(g):
            yield s.finding(
                "HSM020",
                g,
                g.who,
                f"{g.who} holds {_where(g)} ({g.via}) without an expiry; it can assign roles, and "
                "lint.require_expiry_for_admin asks for one",
            )


def check_expiry_too_far(s: LintSubject) -> Iterator[Finding]:
    if s.max_grant_days is None or s.now is None:
        return
    limit = s.now + timedelta(days=s.max_grant_days)
    for g in _declared(s):
        expires = s.expiries[g.key]
        if expires is not None and expires > limit:
            yield s.finding(
                "HSM021",
                g,
                g.who,
                f"{g.who}: {_where(g)} ({g.via}) expires {expiry_text(expires)}, more than "
                f"{s.max_grant_days} days from now (lint.max_grant_days)",
            )


def check_standing_administrator(s: LintSubject) -> Iterator[Finding]:
    for e in s.effective:
        g = e.grant
        if (
            g.plane is Plane.DATA
            and g.role_id == ADMINISTRATOR_ROLE_ID
            and e.hops
            and e.principal_type == "User"
            and e.status is Status.HOLDS
            and e.standing
        ):
            yield s.finding(
                "HSM022",
                g,
                e.principal,
                f"{e.principal} holds {_where(g)} at all times: {e.path()}; PIM for Groups would "
                "make it held only when activated",
            )


def _not_intended(s: LintSubject, e: EffectiveGrant) -> frozenset[str]:
    """The key use and export actions no team declares for this principal (or the group the path
    starts from) at a scope covering the grant's."""
    who = {e.principal_id, e.grant.principal_id}
    declared: set[str] = set()
    for d in _declared(s):
        if (
            d.principal_id in who
            and d.plane is Plane.DATA
            and d.target == e.grant.target
            and data_scope_covers(d.scope, e.grant.scope)
        ):
            declared |= d.short_actions
    return _USE_OR_EXPORT - declared


def check_unintended_key_access(s: LintSubject) -> Iterator[Finding]:
    for e in s.effective:
        g = e.grant
        if g.plane is not Plane.DATA or e.status is Status.NOT_HONOURED:
            continue
        declared = g.key in s.expiries
        if not declared and g.short_actions & _KEY_ACCESS and e.status is Status.HOLDS:
            yield s.finding(
                "HSM023",
                g,
                e.principal,
                f"{e.principal} can use or export keys through an assignment the manifest does not "
                f"declare: {e.path()} ({g.via})",
            )
        elif g.short_actions & ASSIGN_ROLES and g.role_id != ADMINISTRATOR_ROLE_ID:
            missing = _not_intended(s, e)
            if not missing:
                continue
            when = " once activated" if e.status is Status.ONCE_ACTIVATED else ""
            verbs = ", ".join(sorted(a.split("/")[1] for a in missing))
            yield s.finding(
                "HSM023",
                g,
                e.principal,
                f"{e.principal} can obtain {verbs} at {g.scope} on {g.target}{when}: {e.path()} "
                "holds roleAssignments/write, so it can assign itself any role there; no team "
                "declares that access for it",
            )


ACCESS_CHECKS: tuple[Callable[[LintSubject], Iterator[Finding]], ...] = (
    check_admin_without_expiry,
    check_expiry_too_far,
    check_standing_administrator,
    check_unintended_key_access,
)
