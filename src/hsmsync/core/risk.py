"""Risk flags on plan changes: what a reviewer must not miss (computed here, only shown by renderers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hsmsync.core.capabilities import Capability, permits, short_actions
from hsmsync.core.catalog import management_roles
from hsmsync.core.grants import effective_data_actions
from hsmsync.core.plan import Action, Change, FieldChange, Kind, Plane, RoleAssignmentSubject
from hsmsync.core.state import ARM_TRUST_SETTING, AccessPolicy, ArmRoleDefinition, RoleDefinition
from hsmsync.core.vault_permissions import PERMISSION_MODEL_FIELD

_FLAGGED = (
    Capability.ASSIGN_ROLES,
    Capability.MANAGE_ROLE_DEFINITIONS,
    Capability.USE_KEYS,
    Capability.EXPORT_OR_RELEASE,
    Capability.SECURITY_DOMAIN,
    Capability.PURGE,
)
_HSM_WIDE = ("/", "/keys")


def _capabilities(role: RoleDefinition) -> tuple[tuple[Capability, str], ...]:
    return _capabilities_of(effective_data_actions(role))


def _capabilities_of(data_actions: Iterable[str]) -> tuple[tuple[Capability, str], ...]:
    """The flagged capabilities of some data actions, each with its exact actions held:
    (USE_KEYS, "use keys (wrap, unwrap)")."""
    actions = short_actions(data_actions)
    return tuple((c, c.describe(actions)) for c in _FLAGGED if c.granted_by(actions))


class RiskContext:
    """The role definitions of one target, with each role's capabilities worked out once."""

    def __init__(self, roles: Mapping[str, RoleDefinition]) -> None:
        self.roles = roles
        self._caps: dict[str, tuple[tuple[Capability, str], ...]] = {}

    def capabilities(self, role_id: str) -> tuple[tuple[Capability, str], ...]:
        if role_id not in self._caps:
            role = self.roles.get(role_id)
            self._caps[role_id] = _capabilities(role) if role is not None else ()
        return self._caps[role_id]


def _can_assign_azure_roles(role: RoleDefinition | ArmRoleDefinition) -> bool:
    return permits(role.permissions, "Microsoft.Authorization/roleAssignments/write", data=False)


_VAULT_KEY_USE = {"decrypt", "sign", "unwrapkey", "release"}


def _resource_risks(change: Change) -> tuple[str, ...]:
    payload = change.payload
    if change.kind is Kind.ACCESS_POLICY:
        if change.action is Action.DELETE:
            return ("removes vault access",)
        flags = []
        used = sorted(set(payload.keys) & _VAULT_KEY_USE) if isinstance(payload, AccessPolicy) else []
        if used:  # the exact operations, as for HSM roles
            flags.append(f"can use vault keys ({', '.join(used)})")
        if isinstance(payload, AccessPolicy) and "get" in payload.secrets:
            flags.append("can read secrets")
        return tuple(flags)
    if change.kind is Kind.SETTING:
        return _setting_risks(change.field_changes)
    if change.kind is Kind.DATA_SETTING:
        return _data_setting_risks(change.field_changes)
    if change.kind is Kind.ROLE_DEFINITION and isinstance(payload, ArmRoleDefinition):
        return ("role can assign Azure roles",) if _can_assign_azure_roles(payload) else ()
    return ()


def _setting_risks(fields: tuple[FieldChange, ...]) -> tuple[str, ...]:
    """Flags from what each setting changes from and to: widening network exposure is high-risk."""
    flags = []
    for f in fields:
        if f.path == "public_network_access" and f.new == "Enabled":
            flags.append("opens public network access")
        elif f.path == "public_network_access" and f.new == "Disabled":
            flags.append("may cut off the runner (public network access disabled)")
        elif f.path == "network_acls.default_action" and f.new == "Allow":
            flags.append("widens network exposure: network rules default to Allow")
        elif f.path == "network_acls.bypass" and f.new == "AzureServices":
            flags.append("widens network exposure: trusted Azure services bypass the network rules")
        elif f.path == PERMISSION_MODEL_FIELD:
            flags.append(
                f"vault permission model is {f.old}, not {f.new} as declared (apply does not switch it)"
            )
        elif f.path == "network_acls.ip_rules":
            added = sorted(set(f.new or ()) - set(f.old or ()))
            if added:
                flags.append("widens network exposure: allows " + ", ".join(added))
    return tuple(flags)


def _data_setting_risks(fields: tuple[FieldChange, ...]) -> tuple[str, ...]:
    """Trusting ARM with the HSM's keys hands key management to everyone with the Azure RBAC
    actions on the HSM resource (Owner, Contributor): the data plane's own RBAC no longer decides."""
    return tuple(
        "trusts Azure Resource Manager: holders of managedHSMs/keys/* write on the HSM resource "
        "(e.g. Owner, Contributor) can then manage its keys"
        for f in fields
        if f.path == ARM_TRUST_SETTING and str(f.new).lower() == "true"
    )


def _condition_risks(change: Change) -> list[str]:
    """A condition narrows what a role assignment allows: removing or changing it may widen it."""
    if change.action is not Action.UPDATE:
        return []
    old = next((f.old for f in change.field_changes if f.path == "condition"), None)
    new = next((f.new for f in change.field_changes if f.path == "condition"), None)
    if old is not None and new is None:
        return ["condition removed: the role applies without restriction"]
    if old is not None:
        return ["condition changed: review what it now allows"]
    return []


def change_risks(change: Change, context: RiskContext) -> tuple[str, ...]:
    """Flags for one change, given the role definitions of its target."""
    if (
        change.kind in (Kind.ACCESS_POLICY, Kind.SETTING, Kind.DIAGNOSTIC_SETTING, Kind.DATA_SETTING)
        or change.payload is not None
    ):
        return _resource_risks(change)
    if change.kind is Kind.ROLE_DEFINITION:
        if change.action is Action.DELETE or change.definition is None:
            return ()
        # added_data_actions are the effective actions gained, every block evaluated
        return tuple(f"role gains: {text}" for _, text in _capabilities_of(change.added_data_actions))
    if change.plane is Plane.MANAGEMENT:
        role = next((r for r in management_roles() if r.name == change.role_id), None)
        flags = ["removes Azure RBAC access"] if change.action is Action.DELETE else []
        if change.action is Action.CREATE and role is not None and _can_assign_azure_roles(role):
            conditioned = isinstance(change.subject, RoleAssignmentSubject) and change.subject.condition
            flags.append("can assign Azure roles" + (" (as its condition allows)" if conditioned else ""))
        flags += _condition_risks(change)
        return tuple(flags)
    if change.action is Action.DELETE:
        return ("removes access",)
    caps = context.capabilities(change.role_id)
    flags = [f"can {text}" for _, text in caps]
    if change.scope in _HSM_WIDE and any(c is Capability.USE_KEYS for c, _ in caps):
        flags.append("HSM-wide key use")
    elif change.scope in _HSM_WIDE and caps:
        flags.append("HSM-wide grant")
    return tuple(flags)
