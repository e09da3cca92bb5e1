"""Lint vocabulary: severities, the rule registry (stable ids) and findings.

Rule ids never change meaning once published: CI configurations and suppressions refer to them.
HSM005-HSM009 are reserved for vault access policies and HSM settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Loc = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "note": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    severity: Severity  # the default; a rule may report some findings at another level
    rationale: str
    fix: str


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    severity: Severity
    target: str  # what a suppression names: principal key, custom role key, HSM name
    message: str
    fix: str
    location_path: Loc = ()  # path in the manifest document, for file:line
    # The grants the finding is about (plane, target, scope, role id, principal id): `drift` counts
    # an unmanaged live assignment that an error is about as drift.
    about: tuple[tuple[str, str, str, str, str], ...] = ()

    @property
    def sort_key(self) -> tuple[object, ...]:
        return (self.severity.rank, self.rule_id, self.target, self.message)


_RULES = (
    Rule(
        "HSM000",
        "unused-suppression",
        Severity.NOTE,
        "A suppression that matches no finding hides nothing today but would silently hide a future finding.",
        "Remove the entry from lint.suppress, or correct its rule or target.",
    ),
    Rule(
        "HSM001",
        "separation-of-duties",
        Severity.ERROR,
        "A principal that can assign roles and also use keys on the same HSM can grant itself "
        "access to any key; the baseline asks to keep these duties apart.",
        "Give role management (Administrator, Policy Administrator, Crypto Officer) and key use "
        "(Crypto User, Crypto Service * User) to different principals.",
    ),
    Rule(
        "HSM002",
        "admin-role-to-user",
        Severity.WARNING,
        "Roles that can assign roles should go to a security group, so a deleted or departed user "
        "account does not lock the HSM out and membership is reviewed in one place.",
        "Create an Entra ID security group, make the user a member, and assign the role to the group.",
    ),
    Rule(
        "HSM003",
        "hsm-wide-key-use",
        Severity.WARNING,
        "A key-use role at '/' or '/keys' lets the principal use every key in the HSM, including "
        "keys created later; the baseline recommends per-key role assignments.",
        "Assign the role at '/keys/<key-name>' for each key the identity uses.",
    ),
    Rule(
        "HSM004",
        "custom-role-too-broad",
        Severity.WARNING,
        "Custom roles should grant precise permissions: a wildcard grows with the service's "
        "action list (error), and some actions let the holder escalate or take keys out (warning).",
        "List the exact data actions the job needs; leave out role management, security domain, "
        "export, release and purge unless the role exists for exactly that.",
    ),
    Rule(
        "HSM005",
        "write-on-access-policy-vault",
        Severity.ERROR,
        "On a vault that uses access policies, a management-plane role that can write the vault "
        "(Contributor, Owner, Key Vault Contributor) can grant itself data access to keys and secrets.",
        "Give that team Reader on the vault's scope, or move the vault to Azure RBAC (`rbac: true`).",
    ),
    Rule(
        "HSM006",
        "audit-logging-off",
        Severity.WARNING,
        "Without a diagnostic setting for AuditEvent, nobody can tell who used or managed which key.",
        "Add `logging:` to the HSM with a storage account, Log Analytics workspace or event hub.",
    ),
    Rule(
        "HSM007",
        "purge-protection-off",
        Severity.WARNING,
        "Without purge protection a deleted HSM or key can be purged before its retention ends; "
        "the baseline asks for it on every HSM.",
        "Set `settings: {purge_protection: true}` (it cannot be turned off again).",
    ),
    Rule(
        "HSM008",
        "short-soft-delete-retention",
        Severity.WARNING,
        "A short soft-delete retention leaves little time to notice and recover a deletion.",
        "Create HSMs with a longer `soft_delete_retention_days` (it is fixed at creation).",
    ),
    Rule(
        "HSM009",
        "public-network-access",
        Severity.WARNING,
        "An HSM reachable from the public internet relies on identity alone; the baseline asks for "
        "private endpoints and public network access disabled.",
        "Set `settings: {public_network_access: Disabled}` and reach the HSM through a private endpoint.",
    ),
    Rule(
        "HSM011",
        "vault-permission-model-mismatch",
        Severity.ERROR,
        "A vault that uses another permission model than the manifest declares is not governed by "
        "the manifest: its live access policies (or Azure RBAC roles) grant access nobody reviews, "
        "and the declared ones have no effect.",
        "Set `rbac:` on the vault to the model it uses, or switch the vault deliberately "
        "(`az keyvault update --enable-rbac-authorization`) once the access it needs is in place.",
    ),
    Rule(
        "HSM012",
        "access-policy-vault",
        Severity.WARNING,
        "Key Vault is moving to Azure RBAC: control-plane API versions older than 2026-02-01, the "
        "last that manage access policies, retire on 27 February 2027. A vault still on access "
        "policies then has access nobody can change through ARM.",
        "Move the vault to Azure RBAC with `hsmsync migrate`: `--report` shows the equivalent role "
        "assignments, `--write` puts them in the manifest, `--apply` moves it in verified stages.",
    ),
    Rule(
        "HSM013",
        "stale-access-policies",
        Severity.WARNING,
        "A vault on Azure RBAC ignores its access policies, but they remain on the vault: they look "
        "like access to reviewers and come back into force if someone switches the vault back.",
        "Remove the access policies once every identity's access is in place through role "
        "assignments (the vault's access policies with `rbac: false` and `prune: true`, before the switch).",
    ),
    Rule(
        "HSM014",
        "wildcard-data-action-in-azure-role",
        Severity.ERROR,
        "A custom Azure role with a wildcard data action grants every data operation the service "
        "has or will add (for Key Vault: reading every secret, using every key).",
        "List the exact data actions, e.g. Microsoft.KeyVault/vaults/secrets/getSecret/action.",
    ),
    Rule(
        "HSM010",
        "service-limits",
        Severity.ERROR,
        "Managed HSM refuses more than 50 role assignments at HSM scope, 10 at one key, and 50 "
        "custom roles; apply would fail part-way.",
        "Assign roles to groups instead of individual principals, and merge overlapping custom roles.",
    ),
    # HSM020-HSM023: effective access (groups, PIM for Groups, escalation) and time-bound grants.
    Rule(
        "HSM020",
        "admin-grant-without-expiry",
        Severity.WARNING,
        "The manifest's policy (`lint: {require_expiry_for_admin: true}`) asks that grants which "
        "can assign roles end on their own; a standing one stays until someone remembers it.",
        "Add `expires: <ISO 8601 time>` to the entry (the nightly apply removes it then), or hold "
        "the role through a PIM-eligible group.",
    ),
    Rule(
        "HSM021",
        "grant-expiry-too-far",
        Severity.WARNING,
        "An expiry further out than the manifest's limit (`lint: {max_grant_days: N}`) is a "
        "standing grant in all but name.",
        "Bring `expires` within the limit, and renew it deliberately when it is still needed.",
    ),
    Rule(
        "HSM022",
        "standing-administrator",
        Severity.WARNING,
        "Microsoft's just-in-time pattern for Managed HSM is PIM for Groups: the Administrator "
        "role goes to a group whose membership is PIM-eligible, so it is held only when activated.",
        "Make the user's membership of the group PIM-eligible instead of active (or permanent).",
    ),
    Rule(
        "HSM023",
        "unintended-key-access",
        Severity.WARNING,
        "A path to using or exporting keys that no team declares: a role that can assign roles "
        "(other than Administrator) lets its holder assign itself Crypto User or any role, and a "
        "live assignment the manifest does not declare grants access nobody reviews.",
        "Take roleAssignments/write away from that team (or declare the key access it needs), and "
        "remove the undeclared assignment (`prune: true`).",
    ),
)

_KEY_RULES = (
    Rule(
        "HSM030",
        "key-without-expiry",
        Severity.WARNING,
        "A key without an expiry date is used until someone remembers it; the Azure Policy built-in "
        '"Azure Key Vault Managed HSM keys should have an expiration date" flags it.',
        "Set an expiry date on the key (`az keyvault key set-attributes --expires`) or give it a "
        "rotation policy with an expiry time.",
    ),
    Rule(
        "HSM031",
        "key-expiring",
        Severity.WARNING,
        "A key that expires soon (or has expired) stops encrypting and signing; the Azure Policy "
        'built-in "Azure Key Vault Managed HSM Keys should have more than the specified number of '
        'days before expiration" flags it. The window is `lint.key_expiry_warning_days`.',
        "Rotate the key (or extend its expiry) before the date, and update what uses it.",
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in (*_RULES, *_KEY_RULES)}
