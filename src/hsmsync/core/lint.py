"""`hsmsync lint`: check a manifest (and optionally what live state it would leave) against the
Managed HSM security baseline. Pure: the caller loads the manifest and reads live state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from hsmsync.core.access_delta import state_after_plan
from hsmsync.core.desired import DesiredHsm, DesiredState
from hsmsync.core.directory import Directory
from hsmsync.core.effective import expand
from hsmsync.core.grants import grants_from_desired, grants_from_live
from hsmsync.core.ids import deterministic_name
from hsmsync.core.key_review import key_inventory
from hsmsync.core.lint_access import ACCESS_CHECKS
from hsmsync.core.lint_findings import RULES, Finding, Loc, Rule, Severity
from hsmsync.core.lint_rules import (
    CHECKS,
    ArmRoleView,
    CustomRoleView,
    HsmPosture,
    LintSubject,
    PolicyVault,
    VaultModel,
)
from hsmsync.core.manifest_locations import assignment_locations, custom_role_keys
from hsmsync.core.model import Manifest
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import HsmState, LiveState


@dataclass(frozen=True, slots=True)
class SuppressedFinding:
    finding: Finding
    justification: str


@dataclass(frozen=True, slots=True)
class LintReport:
    findings: tuple[Finding, ...]
    suppressed: tuple[SuppressedFinding, ...] = ()

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def exit_code(self) -> int:
        """1 when an unsuppressed error remains: warnings and notes never fail a build."""
        return 1 if self.has_errors else 0


def state_after_apply(desired: DesiredState, live: LiveState) -> LiveState:
    """What `apply` would leave: declared access plus whatever the plan keeps (prune off, initial admins)."""
    missing = {n: HsmState(url=h.url, resource_id=h.resource_id) for n, h in desired.hsms.items()}
    state = live.model_copy(update={"hsms": {**missing, **live.hsms}})
    return state_after_plan(state, plan_changes(desired, state))


def _subject(
    manifest: Manifest,
    desired: DesiredState,
    live: LiveState | None,
    after: LiveState | None,
    now: datetime | None,
) -> LintSubject:
    grants = grants_from_desired(desired)
    role_keys = custom_role_keys(manifest)
    customs = [
        CustomRoleView(name, role_keys[(name, r.name)], r, ("roles", role_keys[(name, r.name)]))
        for name, hsm in desired.hsms.items()
        for r in hsm.custom_roles
    ]
    if after is None and live is not None:
        after = state_after_apply(desired, live)
    if after is not None:
        declared = {g.key for g in grants}
        kept = tuple(g for g in grants_from_live(after, desired.principals) if g.key not in declared)
        grants = (*grants, *kept)
        customs += [
            CustomRoleView(name, r.role_name or r.name, r, ("hsms", name))
            for name, hsm in sorted(after.hsms.items())
            for r in hsm.role_definitions
            if (name, r.name) not in role_keys
        ]
    return LintSubject(
        grants,
        tuple(customs),
        assignment_locations(desired),
        postures=tuple(_posture(name, hsm, after) for name, hsm in sorted(desired.hsms.items())),
        # A vault's live model, when known, decides whether access policies are in force.
        policy_vaults=tuple(
            PolicyVault(name, v.resource_id, ("vaults", name))
            for name, v in sorted(desired.vaults.items())
            if not _uses_rbac(name, v.rbac, after)
        ),
        min_retention_days=manifest.lint.min_soft_delete_retention_days,
        vault_models=tuple(
            VaultModel(name, v.rbac, _live_rbac(name, after), ("vaults", name), _live_policies(name, after))
            for name, v in sorted(desired.vaults.items())
        ),
        effective=expand(grants, _directory(after), {i: p.key for i, p in desired.principals.items()}),
        expiries={a.key: a.expires for a in desired.assignments},
        require_expiry_for_admin=manifest.lint.require_expiry_for_admin,
        max_grant_days=manifest.lint.max_grant_days,
        now=now,
        arm_roles=_arm_roles(manifest, desired, after),
    )


def _directory(state: LiveState | None) -> Directory | None:
    return Directory.of(state.directory) if state is not None and state.directory is not None else None


def _live_policies(vault: str, after: LiveState | None) -> int | None:
    live = after.vaults.get(vault) if after is not None else None
    return len(live.access_policies) if live is not None else None


def _arm_roles(manifest: Manifest, desired: DesiredState, after: LiveState | None) -> tuple[ArmRoleView, ...]:
    """The declared custom Azure roles, and the live ones the manifest does not declare."""
    keys = {r.id or deterministic_name("armrole", k): k for k, r in manifest.arm_roles.items()}
    views = [
        ArmRoleView(keys.get(r.name, r.role_name), r, ("arm_roles", keys.get(r.name, "")))
        for r in desired.arm_roles
    ]
    declared = {r.name for r in desired.arm_roles}
    live = after.arm.role_definitions if after is not None else ()
    views += [ArmRoleView(r.role_name, r, ()) for r in live if r.name not in declared]
    return tuple(views)


def _live_rbac(vault: str, after: LiveState | None) -> bool | None:
    live = after.vaults.get(vault) if after is not None else None
    return live.enable_rbac_authorization if live is not None else None


def _uses_rbac(vault: str, declared: bool, after: LiveState | None) -> bool:
    live = _live_rbac(vault, after)
    return declared if live is None else live


def _posture(name: str, hsm: DesiredHsm, after: LiveState | None) -> HsmPosture:
    """Settings as apply would leave them (with live state), else only what the manifest says."""
    loc: Loc = ("hsms", name, "settings") if hsm.settings else ("hsms", name)
    if after is not None and name in after.hsms:
        state = after.hsms[name]
        audit = any("AuditEvent" in d.categories for d in state.diagnostic_settings)
        s = state.settings
        return HsmPosture(
            name, s.purge_protection, s.soft_delete_retention_days, s.public_network_access, audit, loc
        )
    patch = hsm.settings
    audit_known = True if hsm.logging is not None and "AuditEvent" in hsm.logging.categories else None
    return HsmPosture(
        name,
        patch.purge_protection if patch else None,
        patch.soft_delete_retention_days if patch else None,
        patch.public_network_access if patch else None,
        audit_known,
        loc,
    )


def lint(
    manifest: Manifest,
    desired: DesiredState,
    live: LiveState | None = None,
    *,
    after: LiveState | None = None,
    now: datetime | None = None,
) -> LintReport:
    """Findings of every rule, sorted; suppressed ones kept apart with their justification.

    With `live`, the rules also see live access the manifest does not declare but apply would keep.
    `after` is that state when the caller already has it (`plan` does), so it is not planned twice.
    With `live` and `now`, the keys' expiry is judged too (HSM030, HSM031); a plan changes no
    key, so a plan's review leaves `now` out. `now` is also the time grants' `expires` are judged
    at (HSM021; without it HSM021 is not checked).
    """
    subject = _subject(manifest, desired, live, after, now)
    if live is not None and now is not None:
        days = manifest.lint.key_expiry_warning_days
        keys = key_inventory(live, None, None, now=now, warning_days=days).entries
        subject = replace(subject, keys=keys, key_warning_days=days)
    raw = sorted({f for check in (*CHECKS, *ACCESS_CHECKS) for f in check(subject)}, key=_order)
    suppressions = manifest.lint.suppress
    used: set[int] = set()
    findings: list[Finding] = []
    suppressed: list[SuppressedFinding] = []
    for f in raw:
        match = next(
            (i for i, s in enumerate(suppressions) if s.rule == f.rule_id and s.target in ("*", f.target)),
            None,
        )
        if match is None:
            findings.append(f)
        else:
            used.add(match)
            suppressed.append(SuppressedFinding(f, suppressions[match].justification))
    for i, s in enumerate(suppressions):
        if i not in used:
            findings.append(
                Finding(
                    "HSM000",
                    Severity.NOTE,
                    s.target,
                    f"suppression of {s.rule} for '{s.target}' matches no finding",
                    RULES["HSM000"].fix,
                    ("lint", "suppress", i),
                )
            )
    return LintReport(tuple(sorted(findings, key=_order)), tuple(suppressed))


def _order(f: Finding) -> tuple[object, ...]:
    return (*f.sort_key, tuple(str(p) for p in f.location_path))


__all__ = ["RULES", "Finding", "LintReport", "Rule", "Severity", "SuppressedFinding", "lint"]
