"""Key Vault access policies as grants: who holds which permission on which vault.

A vault's access policy is access as real as a role assignment: `explain` and `whocan` answer
from these alongside the HSMs' grants. A vault that uses Azure RBAC ignores its access policies;
such policies are kept here, marked `ignored`, so an answer can say so instead of counting them.
A compound identity's entry (a user through an application) is a grant of its own, held only
through that application: answers say "only via application X", never the user's plain access.

An entry whose object is a group reaches every transitive member (`expand_policies`), as a role
assignment to a group does: Key Vault honours the group memberships of users and service
principals alike (unlike the Managed HSM data plane), and a PIM-eligible membership holds nothing
until it is activated. A compound entry naming a group stays compound for each member: the member
holds it only when it calls through that application.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from hsmsync.core.desired import DesiredState, PrincipalInfo
from hsmsync.core.directory import Directory, Hop
from hsmsync.core.effective import Status, members_of
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.state import AccessPolicy, LiveState
from hsmsync.core.vault_permissions import PERMISSIONS

KINDS = ("keys", "secrets", "certificates", "storage")
# Managed HSM verbs people type for the vault permission of the same meaning.
_HSM_VERBS = {"wrap": "wrapkey", "unwrap": "unwrapkey", "read": "get"}


@dataclass(frozen=True, slots=True)
class PolicyGrant:
    vault: str
    principal_id: str
    principal: str | None  # the manifest's key for the principal, when it declares it
    principal_type: str
    permissions: tuple[tuple[str, tuple[str, ...]], ...]  # (kind, lower-cased permissions), in KINDS order
    via: str
    ignored: bool = False  # the vault uses Azure RBAC: the service does not apply this policy
    application_id: str | None = None  # a compound identity: held only through this application
    through: tuple[Hop, ...] = ()  # group hops, the member's own group first; empty: its own entry

    @property
    def status(self) -> Status:
        """Held now, or only once a PIM-eligible group membership on the way is activated."""
        return Status.ONCE_ACTIVATED if any(h.eligible for h in self.through) else Status.HOLDS

    @property
    def who(self) -> str:
        return self.principal or self.principal_id

    @property
    def condition(self) -> str:
        """`` or `, only via application X` (a compound identity's entry)."""
        return f", only via application {self.application_id}" if self.application_id else ""

    def holds(self, kind: str, permission: str) -> bool:
        return not self.ignored and permission in dict(self.permissions).get(kind, ())

    def summary(self) -> str:
        """`keys: get, sign; secrets: get`."""
        parts = [f"{kind}: {', '.join(perms)}" for kind, perms in self.permissions if perms]
        return "; ".join(parts) or "nothing (empty permission lists)"


def _permissions(policy: AccessPolicy) -> tuple[tuple[str, tuple[str, ...]], ...]:
    # The service compares permission names case-insensitively; a state file may spell `unwrapKey`.
    return tuple((kind, tuple(sorted({p.lower() for p in getattr(policy, kind)}))) for kind in KINDS)


def _grant(
    vault: str, policy: AccessPolicy, principals: Mapping[str, PrincipalInfo], via: str, ignored: bool
) -> PolicyGrant:
    info = principals.get(policy.object_id)
    return PolicyGrant(
        vault=vault,
        principal_id=policy.object_id,
        principal=info.key if info else None,
        principal_type=info.type if info else "Unknown",
        permissions=_permissions(policy),
        via=via,
        ignored=ignored,
        application_id=policy.application_id,
    )


def policies_from_desired(desired: DesiredState) -> tuple[PolicyGrant, ...]:
    return tuple(
        _grant(name, p, desired.principals, f"vaults.{name}.access_policies", vault.rbac)
        for name, vault in sorted(desired.vaults.items())
        for p in vault.access_policies
    )


def policies_from_live(live: LiveState, principals: Mapping[str, PrincipalInfo]) -> tuple[PolicyGrant, ...]:
    """`principals` by object id (DesiredState.principals) name the principals the manifest knows."""
    return tuple(
        _grant(name, p, principals, "live access policy", vault.enable_rbac_authorization)
        for name, vault in sorted(live.vaults.items())
        for p in vault.access_policies
    )


def expand_policies(
    policies: Iterable[PolicyGrant], directory: Directory | None, names: Mapping[str, str] | None = None
) -> tuple[PolicyGrant, ...]:
    """Every entry as it reaches its object and, for a group, each transitive member (with the
    hops; `effective.members_of`, as role assignments are followed). `names`: object id -> the
    manifest's key. A compound entry keeps its application for every member."""
    out: list[PolicyGrant] = []
    for p in policies:
        out.append(p)
        out.extend(
            replace(p, principal_id=m.id, principal=m.name, principal_type=m.type, through=m.hops)
            for m in members_of(p.principal_id, directory, names)
        )
    return tuple(out)


def policy_notes(policy: PolicyGrant, declared: tuple[PolicyGrant, ...] | None) -> tuple[str, ...]:
    """Why a principal's policy deserves a look: ignored by Azure, or not what the manifest says."""
    notes = []
    if policy.through:
        notes.append("through " + " -> ".join(h.describe() for h in policy.through))
    if policy.status is Status.ONCE_ACTIVATED:
        notes.append(
            "can once activated: a PIM-eligible group membership holds nothing until it is activated"
        )
    if policy.application_id:
        notes.append(
            f"only via application {policy.application_id} (a compound identity): held only when it "
            "calls through that application"
        )
    if policy.ignored:
        notes.append("ignored: the vault uses Azure RBAC, so Azure does not apply access policies")
    if declared is not None:
        same = [
            d
            for d in declared
            if d.vault == policy.vault
            and d.principal_id == policy.principal_id
            and d.application_id == policy.application_id
            and d.through == policy.through
        ]
        if not same:
            notes.append("not declared by the manifest")
        elif same[0].permissions != policy.permissions:
            notes.append(f"the manifest declares {same[0].summary()}")
    return tuple(notes)


def resolve_vault_permission(text: str) -> tuple[str, str]:
    """`keys/sign`, `secrets/get`, `sign`, `wrap` -> (kind, permission); HsmsyncError if unknown or
    ambiguous (`get` is a permission of keys, secrets, certificates and storage)."""
    raw = text.strip().lower().removeprefix("microsoft.keyvault/vaults/").removesuffix("/action")
    known = {kind: {p.lower() for p in PERMISSIONS[kind]} for kind in KINDS}
    if "/" in raw:
        kind, _, verb = raw.partition("/")
        verb = _HSM_VERBS.get(verb, verb) if verb not in known.get(kind, set()) else verb
        if kind in known and verb in known[kind]:
            return kind, verb
        options = [f"{k}/{p}" for k in KINDS for p in sorted(known[k])]
        close = difflib.get_close_matches(raw, options, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise HsmsyncError(
            f"unknown vault permission '{text}' (give <keys|secrets|certificates|storage>/<permission>){hint}"
        )
    verb = raw if any(raw in perms for perms in known.values()) else _HSM_VERBS.get(raw, raw)
    kinds = [k for k in KINDS if verb in known[k]]
    if len(kinds) == 1:
        return kinds[0], verb
    if kinds:
        choices = ", ".join(f"{k}/{verb}" for k in kinds)
        raise HsmsyncError(f"'{text}' is a permission of several kinds; name one: {choices}")
    every = sorted({p for perms in known.values() for p in perms})
    close = difflib.get_close_matches(raw, every, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise HsmsyncError(f"unknown vault permission '{text}'{hint}")
