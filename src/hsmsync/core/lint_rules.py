"""The lint checks: each turns grants and custom roles into findings for one rule."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from hsmsync.core.capabilities import (
    ASSIGN_ROLES,
    CRYPTO_USE,
    EXPORT_OR_RELEASE,
    HSM_WIDE_KEY_USE,
    MANAGE_ROLE_DEFINITIONS,
    PURGE_KEYS,
)
from hsmsync.core.conditions import Request, Verdict, evaluate
from hsmsync.core.desired import AssignmentKey
from hsmsync.core.effective import VAULT_WRITE, EffectiveGrant, arm_covers, can_write_vault
from hsmsync.core.grants import Grant, effective_data_actions
from hsmsync.core.key_review import Expiry, KeyEntry
from hsmsync.core.limits import (
    CUSTOM_ROLE_LIMIT,
    HSM_SCOPE_ASSIGNMENT_LIMIT,
    KEY_SCOPE_ASSIGNMENT_LIMIT,
    near_limit,
)
from hsmsync.core.lint_findings import RULES, Finding, Loc, Severity
from hsmsync.core.plan import Plane
from hsmsync.core.state import ArmRoleDefinition, RoleDefinition

_ESCALATING = ASSIGN_ROLES | MANAGE_ROLE_DEFINITIONS | EXPORT_OR_RELEASE | PURGE_KEYS


@dataclass(frozen=True, slots=True)
class CustomRoleView:
    hsm: str
    key: str  # the manifest's key; a live-only role goes by its name
    definition: RoleDefinition
    location: Loc


@dataclass(frozen=True, slots=True)
class HsmPosture:
    """What is known of one HSM's resource settings (None: unknown, not checked)."""

    hsm: str
    purge_protection: bool | None
    soft_delete_retention_days: int | None
    public_network_access: str | None
    audit_logging: bool | None
    location: Loc


@dataclass(frozen=True, slots=True)
class PolicyVault:
    """A vault that uses access policies, where the manifest declares it."""

    name: str
    resource_id: str
    location: Loc


@dataclass(frozen=True, slots=True)
class VaultModel:
    """A vault's permission model as declared and, when live state is known, as it is."""

    name: str
    declared_rbac: bool
    live_rbac: bool | None
    location: Loc
    live_policies: int | None = None  # access policies on the vault after the plan, when known


@dataclass(frozen=True, slots=True)
class ArmRoleView:
    """A custom Azure role, declared (`arm_roles.<key>`) or live."""

    key: str
    definition: ArmRoleDefinition
    location: Loc


@dataclass(frozen=True, slots=True)
class LintSubject:
    """What the rules look at: every grant (both planes), every custom role, HSM and vault posture."""

    grants: tuple[Grant, ...]
    custom_roles: tuple[CustomRoleView, ...]
    locations: Mapping[AssignmentKey, Loc]
    postures: tuple[HsmPosture, ...] = ()
    policy_vaults: tuple[PolicyVault, ...] = ()
    min_retention_days: int = 30
    vault_models: tuple[VaultModel, ...] = ()
    keys: tuple[KeyEntry, ...] = ()  # with live state and a time to judge expiry by; else none
    key_warning_days: int = 30
    # Effective access and time-bound grants (lint_access.py):
    effective: tuple[EffectiveGrant, ...] = ()  # grants followed through groups (needs a directory)
    expiries: Mapping[AssignmentKey, datetime | None] = field(default_factory=dict)  # declared grants
    require_expiry_for_admin: bool = False
    max_grant_days: int | None = None
    now: datetime | None = None
    arm_roles: tuple[ArmRoleView, ...] = ()

    def data_grants(self) -> list[Grant]:
        return [g for g in self.grants if g.plane is Plane.DATA]

    def finding(
        self,
        rule_id: str,
        g: Grant | None,
        target: str,
        message: str,
        *,
        loc: Loc = (),
        severity: Severity | None = None,
        about: tuple[Grant, ...] = (),
    ) -> Finding:
        """A finding located at the grant's team entry, or at `loc` when there is no grant.

        It is about `g` and the grants in `about`."""
        rule = RULES[rule_id]
        where = self.locations.get(g.key, ()) if g is not None else loc
        keys = tuple(dict.fromkeys(x.key for x in ((g,) if g is not None else ()) + about))
        return Finding(rule_id, severity or rule.severity, target, message, rule.fix, where, keys)


def _held(g: Grant) -> str:
    where = g.via if g.via.startswith("team ") else "live, not in the manifest"
    return f"{g.role_name} at {g.scope} ({where})"


def check_separation_of_duties(s: LintSubject) -> Iterator[Finding]:
    by_holder: dict[tuple[str, str], list[Grant]] = defaultdict(list)
    for g in s.data_grants():
        by_holder[(g.target, g.principal_id)].append(g)
    for (hsm, _), held in sorted(by_holder.items()):
        assign = [g for g in held if g.short_actions & ASSIGN_ROLES]
        use = [g for g in held if g.short_actions & CRYPTO_USE]
        if assign and use:
            who = assign[0].who
            yield s.finding(
                "HSM001",
                assign[0],
                who,
                f"{who} can assign roles on {hsm} ({'; '.join(map(_held, assign))}) and use keys "
                f"({'; '.join(map(_held, use))}): it can grant itself access to any key",
                about=(*assign, *use),
            )


def check_admin_to_user(s: LintSubject) -> Iterator[Finding]:
    for g in s.data_grants():
        if g.principal_type == "User" and g.short_actions & ASSIGN_ROLES:
            yield s.finding(
                "HSM002",
                g,
                g.who,
                f"{g.who} is a User and holds {_held(g)} on {g.target}, which can assign roles",
            )


def check_hsm_wide_key_use(s: LintSubject) -> Iterator[Finding]:
    for g in s.data_grants():
        if g.scope.lower() in ("/", "/keys") and g.short_actions & HSM_WIDE_KEY_USE:
            yield s.finding(
                "HSM003",
                g,
                g.who,
                f"{g.who} holds {_held(g)} on {g.target}: it can use every key in the HSM, "
                "including keys created later",
            )


def check_custom_roles(s: LintSubject) -> Iterator[Finding]:
    for view in s.custom_roles:
        role = view.definition
        wildcards = [a for b in role.permissions for a in b.data_actions if "*" in a]
        if wildcards:
            yield s.finding(
                "HSM004",
                None,
                view.key,
                f"custom role '{role.role_name}' on {view.hsm} grants wildcard actions: "
                + ", ".join(wildcards),
                loc=(*view.location, "data_actions"),
                severity=Severity.ERROR,
            )
            continue
        actions = sorted(a for a in effective_data_actions(role) if _escalates(a))
        if actions:
            yield s.finding(
                "HSM004",
                None,
                view.key,
                f"custom role '{role.role_name}' on {view.hsm} grants escalation-capable actions: "
                + ", ".join(actions),
                loc=(*view.location, "data_actions"),
            )


def _escalates(action: str) -> bool:
    short = action.lower().removeprefix("microsoft.keyvault/managedhsm/")
    return short in _ESCALATING or short.startswith("securitydomain/")


def check_limits(s: LintSubject) -> Iterator[Finding]:
    per_scope: Counter[tuple[str, str]] = Counter()
    for key in {g.key for g in s.data_grants()}:
        _, hsm, scope, _, _ = key
        per_scope[(hsm, "/" if scope in ("/", "/keys") else scope)] += 1
    for (hsm, scope), count in sorted(per_scope.items()):
        limit = HSM_SCOPE_ASSIGNMENT_LIMIT if scope == "/" else KEY_SCOPE_ASSIGNMENT_LIMIT
        where = "at HSM scope ('/' and '/keys')" if scope == "/" else f"at {scope}"
        yield from _limit_finding(s, hsm, f"{count} role assignments {where}", count, limit)
    roles = Counter(v.hsm for v in s.custom_roles)
    for hsm, count in sorted(roles.items()):
        yield from _limit_finding(s, hsm, f"{count} custom roles", count, CUSTOM_ROLE_LIMIT)


def _limit_finding(s: LintSubject, hsm: str, what: str, count: int, limit: int) -> Iterator[Finding]:
    """Over the limit: an error (apply would fail). At or near it: a warning (the next grant fails,
    and a swap there has to delete before it creates)."""
    if count > limit:
        yield s.finding("HSM010", None, hsm, f"{hsm}: {what}; the limit is {limit}", loc=("hsms", hsm))
    elif near_limit(count, limit):
        yield s.finding(
            "HSM010",
            None,
            hsm,
            f"{hsm}: {what}, at or near the limit of {limit}",
            loc=("hsms", hsm),
            severity=Severity.WARNING,
        )


def check_write_on_policy_vault(s: LintSubject) -> Iterator[Finding]:
    for vault in s.policy_vaults:
        for g in s.grants:
            if not (arm_covers(g.scope, vault.resource_id) and can_write_vault(g)):
                continue
            verdict = evaluate(g.condition, Request(VAULT_WRITE, {})) if g.condition else Verdict.ALLOWED
            if verdict is Verdict.DENIED:
                continue  # its condition withholds vaults/write
            under = f" (under a condition hsmsync did not evaluate: {g.condition})" if g.condition else ""
            if verdict is Verdict.ALLOWED and g.condition:
                under = " (its condition does not restrict vaults/write)"
            yield s.finding(
                "HSM005",
                g,
                g.who,
                f"{g.who} holds {_held(g)}{under}, which can write vault {vault.name}; the vault uses "
                "access policies, so it can grant itself access to keys and secrets",
            )


def check_posture(s: LintSubject) -> Iterator[Finding]:
    for p in s.postures:
        if p.audit_logging is False:
            yield s.finding("HSM006", None, p.hsm, f"{p.hsm}: no audit logging (AuditEvent)", loc=p.location)
        if p.purge_protection is False:
            yield s.finding("HSM007", None, p.hsm, f"{p.hsm}: purge protection is off", loc=p.location)
        days = p.soft_delete_retention_days
        if days is not None and days < s.min_retention_days:
            yield s.finding(
                "HSM008",
                None,
                p.hsm,
                f"{p.hsm}: soft-delete retention is {days} days (below {s.min_retention_days})",
                loc=p.location,
            )
        if p.public_network_access == "Enabled":
            yield s.finding(
                "HSM009", None, p.hsm, f"{p.hsm}: public network access is enabled", loc=p.location
            )


def check_vault_permission_model(s: LintSubject) -> Iterator[Finding]:
    for v in s.vault_models:
        if v.live_rbac is not None and v.live_rbac != v.declared_rbac:
            have = "Azure RBAC" if v.live_rbac else "access policies"
            yield s.finding(
                "HSM011",
                None,
                v.name,
                f"vault {v.name} uses {have}; the manifest says rbac: {str(v.declared_rbac).lower()}",
                loc=(*v.location, "rbac"),
            )


def check_key_expiry(s: LintSubject) -> Iterator[Finding]:
    """The Azure Policy built-ins' two key checks; a key listed by name only is not judged."""
    for k in s.keys:
        where: Loc = ("hsms" if k.owner_kind == "hsm" else "vaults", k.owner)
        label = f"key {k.name} on {'HSM' if k.owner_kind == 'hsm' else 'vault'} {k.owner}"
        target = f"{k.owner}/{k.name}"
        if k.expiry is Expiry.NONE:
            yield s.finding("HSM030", None, target, f"{label} has no expiry date", loc=where)
        elif k.expiry is Expiry.EXPIRED and k.properties and k.properties.expires_on:
            when = k.properties.expires_on.isoformat()
            yield s.finding("HSM031", None, target, f"{label} expired on {when}", loc=where)
        elif k.expiry is Expiry.EXPIRING and k.properties and k.properties.expires_on:
            when = k.properties.expires_on.isoformat()
            days = f"{k.days_left} day{'' if k.days_left == 1 else 's'}"
            yield s.finding(
                "HSM031",
                None,
                target,
                f"{label} expires on {when}, in {days} (within {s.key_warning_days})",
                loc=where,
            )


# The last day of the control-plane API versions that manage access policies (issue 14).
ACCESS_POLICY_DEADLINE = "27 February 2027"


def check_access_policy_vaults(s: LintSubject) -> Iterator[Finding]:
    for vault in s.policy_vaults:
        yield s.finding(
            "HSM012",
            None,
            vault.name,
            f"vault {vault.name} uses access policies; the API versions that manage them retire on "
            f"{ACCESS_POLICY_DEADLINE}: move it to Azure RBAC",
            loc=vault.location,
        )


def check_stale_access_policies(s: LintSubject) -> Iterator[Finding]:
    for v in s.vault_models:
        on_rbac = v.declared_rbac if v.live_rbac is None else v.live_rbac
        if on_rbac and v.live_policies:
            yield s.finding(
                "HSM013",
                None,
                v.name,
                f"vault {v.name} uses Azure RBAC but still holds {v.live_policies} access "
                f"polic{'y' if v.live_policies == 1 else 'ies'}: inactive, but misleading",
                loc=v.location,
            )


def check_wildcard_data_actions(s: LintSubject) -> Iterator[Finding]:
    for role in s.arm_roles:
        for block in role.definition.permissions:
            wild = [a for a in block.data_actions if "*" in a]
            if wild:
                yield s.finding(
                    "HSM014",
                    None,
                    role.key,
                    f"custom Azure role {role.definition.role_name!r} grants wildcard data actions: "
                    + ", ".join(wild),
                    loc=role.location,
                )


CHECKS: tuple[Callable[[LintSubject], Iterator[Finding]], ...] = (
    check_separation_of_duties,
    check_admin_to_user,
    check_hsm_wide_key_use,
    check_custom_roles,
    check_limits,
    check_write_on_policy_vault,
    check_posture,
    check_vault_permission_model,
    check_key_expiry,
    check_access_policy_vaults,
    check_stale_access_policies,
    check_wildcard_data_actions,
)
