"""Planning beyond RBAC: HSM settings, audit logging, Key Vault access policies, custom Azure roles.

Pure like the rest of the planner: (desired, live) -> changes, warnings, and refusals (what the
service would refuse, said at plan time with the reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from hsmsync.core.desired import DesiredHsm, DesiredState, DesiredVault, PrincipalInfo
from hsmsync.core.plan import (
    AccessPolicySubject,
    Action,
    Change,
    DataSettingSubject,
    DiagnosticSettingSubject,
    FieldChange,
    PermissionModelSubject,
    Plane,
    RoleDefinitionSubject,
    SettingsSubject,
)
from hsmsync.core.roledefs import arm_role_changes
from hsmsync.core.state import (
    DEFAULT_DATA_SETTINGS,
    AccessPolicy,
    ArmRoleDefinition,
    DataSetting,
    DiagnosticSetting,
    HsmSettings,
    LiveState,
    VaultState,
)
from hsmsync.core.target import ARM, Target
from hsmsync.core.vault_permissions import (
    PERMISSION_MODEL_FIELD,
    permission_model_name,
    permission_model_refusal,
)

_POLICY_LISTS = ("keys", "secrets", "certificates", "storage")


@dataclass
class ResourcePlan:
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def plan_resources(desired: DesiredState, live: LiveState) -> ResourcePlan:
    out = ResourcePlan()
    for name in sorted(desired.hsms):
        hsm, live_hsm = desired.hsms[name], live.hsms.get(name)
        current = live_hsm.settings if live_hsm else HsmSettings()
        if hsm.settings is not None:
            _plan_settings(hsm, current, out)
        if hsm.logging is not None:
            existing = {d.name: d for d in (live_hsm.diagnostic_settings if live_hsm else ())}
            _plan_logging(hsm, hsm.logging, existing.get(hsm.logging.name), out)
        if hsm.data_settings is not None:
            have = live_hsm.listed_data_settings if live_hsm else DEFAULT_DATA_SETTINGS
            _plan_data_settings(hsm.name, hsm.data_settings, {d.name: d for d in have}, out)
    for name in sorted(desired.vaults):
        _plan_vault(desired.vaults[name], live.vaults.get(name), desired.principals, out)
    _plan_arm_roles(desired, live, out)
    return out


def _plan_settings(hsm: DesiredHsm, current: HsmSettings, out: ResourcePlan) -> None:
    assert hsm.settings is not None
    # Only the fields the manifest gives, at every depth: the rest keep their live values.
    flat_wanted = _flatten(hsm.settings.applied_to(current).model_dump())
    flat_have = _flatten(current.model_dump())
    fields = [
        FieldChange(k, _plain(flat_have[k]), _plain(v)) for k, v in flat_wanted.items() if flat_have[k] != v
    ]
    if not fields:
        return
    for f in fields:
        if f.path == "purge_protection" and f.old is True:
            out.refusals.append(f"{hsm.name}: purge protection cannot be turned off once it is on")
        if f.path == "soft_delete_retention_days":
            out.refusals.append(
                f"{hsm.name}: soft-delete retention is fixed when the HSM is created "
                f"({f.old} days); the manifest asks for {f.new}"
            )
    if any(f.path == "public_network_access" and f.new == "Disabled" for f in fields):
        out.warnings.append(
            f"{hsm.name}: disabling public network access can cut off the runner that applies this "
            "plan (it is applied last); make sure the runner reaches the HSM through a private endpoint"
        )
    out.changes.append(
        Change(
            id=f"management:{hsm.name}:setting",
            action=Action.UPDATE,
            target=Target.hsm(hsm.name),
            reason="settings differ from the manifest: " + ", ".join(f.path for f in fields),
            subject=SettingsSubject(hsm.resource_id, hsm.settings, tuple(fields)),
        )
    )


def _plan_data_settings(
    hsm: str, wanted: Mapping[str, bool], have: Mapping[str, DataSetting], out: ResourcePlan
) -> None:
    """One update per data-plane setting whose value differs; a name the HSM does not list is
    refused (the service would answer 400), with the names it does list."""
    for name, value in wanted.items():
        current = have.get(name)
        if current is None:
            listed = ", ".join(sorted(have)) or "none"
            out.refusals.append(f"{hsm}: the HSM has no data-plane setting '{name}' (it lists: {listed})")
            continue
        text = "true" if value else "false"
        if current.value.lower() == text:
            continue
        out.changes.append(
            Change(
                id=f"data:{hsm}:data_setting:{name}",
                action=Action.UPDATE,
                target=Target.hsm(hsm),
                reason=f"data-plane setting {name} is {current.value}, the manifest says {text}",
                subject=DataSettingSubject(
                    "/",
                    DataSetting(name=name, value=text, type=current.type),
                    (FieldChange(name, current.value, text),),
                ),
            )
        )


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"network_acls": {"bypass": x}} -> {"network_acls.bypass": x}: one `~` line per field."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _differences(old_model: BaseModel, new_model: BaseModel) -> tuple[FieldChange, ...]:
    old, new = old_model.model_dump(), new_model.model_dump()
    return tuple(FieldChange(k, _plain(old[k]), _plain(new[k])) for k in new if old[k] != new[k])


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
    return list(value) if isinstance(value, tuple) else value


def _same_diagnostic(a: DiagnosticSetting, b: DiagnosticSetting) -> bool:
    """ARM resource ids compare case-insensitively; Azure may return them in another casing."""

    def norm(d: DiagnosticSetting) -> dict[str, Any]:
        data = d.model_dump()
        for k in ("storage_account_id", "workspace_id", "event_hub_authorization_rule_id"):
            data[k] = data[k].lower() if data[k] else data[k]
        data["categories"] = sorted(c.lower() for c in data["categories"])
        return data

    return norm(a) == norm(b)


def _plan_logging(
    hsm: DesiredHsm, wanted: DiagnosticSetting, have: DiagnosticSetting | None, out: ResourcePlan
) -> None:
    if have is not None and _same_diagnostic(have, wanted):
        return
    fields: tuple[FieldChange, ...] = ()
    if have is not None:
        fields = _differences(have, wanted)
    out.changes.append(
        Change(
            id=f"management:{hsm.name}:diagnostic_setting:{wanted.name}",
            action=Action.CREATE if have is None else Action.UPDATE,
            target=Target.hsm(hsm.name),
            reason="logging declared in the manifest"
            if have is None
            else "logging differs from the manifest: " + ", ".join(f.path for f in fields),
            subject=DiagnosticSettingSubject(hsm.resource_id, wanted, fields),
        )
    )


def _plan_vault(
    vault: DesiredVault,
    live: VaultState | None,
    principals: Mapping[str, PrincipalInfo],
    out: ResourcePlan,
) -> None:
    if live is not None and live.enable_rbac_authorization != vault.rbac:
        _plan_permission_model(vault, live, out)
    if vault.rbac:
        return
    # An entry is (object id, application id): a compound entry is never the plain one's twin.
    have = {p.entry_key: p for p in (live.access_policies if live else ())}
    for wanted in vault.access_policies:
        current = have.get(wanted.entry_key)
        if current == wanted:
            continue
        info = principals.get(wanted.object_id)
        fields = _policy_fields(current, wanted)
        out.changes.append(
            _policy_change(vault, wanted, info, Action.CREATE if current is None else Action.UPDATE, fields)
        )
    declared = {p.entry_key for p in vault.access_policies}
    for entry in sorted(have.keys() - declared):
        info = principals.get(have[entry].object_id)
        if vault.prune:
            out.changes.append(_policy_change(vault, have[entry], info, Action.DELETE, ()))


def _plan_permission_model(vault: DesiredVault, live: VaultState, out: ResourcePlan) -> None:
    """Drift hsmsync reports (plan, drift, lint) but does not apply: see PERMISSION_MODEL_FIELD."""
    have, want = permission_model_name(live.enable_rbac_authorization), permission_model_name(vault.rbac)
    consequence = (
        "its access policies, which the manifest does not review, still grant access"
        if not live.enable_rbac_authorization
        else "the manifest's access policies have no effect"
    )
    change = Change(
        id=f"management:vault:{vault.name}:permission_model",
        action=Action.UPDATE,
        target=Target.vault(vault.name),
        reason=f"the vault uses {have}, the manifest says rbac: {str(vault.rbac).lower()} ({consequence})",
        subject=PermissionModelSubject(vault.resource_id, (FieldChange(PERMISSION_MODEL_FIELD, have, want),)),
    )
    out.changes.append(change)
    out.warnings.append(f"vault {vault.name}: {change.reason}; {permission_model_refusal(change)}")


def _policy_fields(current: AccessPolicy | None, wanted: AccessPolicy) -> tuple[FieldChange, ...]:
    out = []
    for kind in _POLICY_LISTS:
        old = getattr(current, kind) if current else ()
        new = getattr(wanted, kind)
        if old != new:
            out.append(FieldChange(kind, list(old), list(new)))
    return tuple(out)


def _policy_change(
    vault: DesiredVault,
    policy: AccessPolicy,
    info: PrincipalInfo | None,
    action: Action,
    fields: tuple[FieldChange, ...],
) -> Change:
    reason = {
        Action.CREATE: "access policy declared in the manifest",
        Action.UPDATE: "permissions differ from the manifest: " + ", ".join(f.path for f in fields),
        Action.DELETE: "not declared in the manifest; vault has prune: true",
    }[action]
    return Change(
        id=f"management:vault:{vault.name}:access_policy:{policy.entry_key}",
        action=action,
        target=Target.vault(vault.name),
        reason=reason,
        subject=AccessPolicySubject(
            scope=vault.resource_id,
            principal_id=policy.object_id,
            principal=info.key if info else None,
            principal_type=info.type if info else None,
            payload=policy,
            field_changes=fields,
        ),
    )


def _plan_arm_roles(desired: DesiredState, live: LiveState, out: ResourcePlan) -> None:
    have = {r.name: r for r in live.arm.role_definitions}
    for role in desired.arm_roles:
        current = have.get(role.name)
        if current == role:
            continue
        fields: tuple[FieldChange, ...] = ()
        if current is not None:
            fields = arm_role_changes(current, role)
        out.changes.append(
            _arm_role_change(role, Action.CREATE if current is None else Action.UPDATE, fields)
        )
    declared = {r.name for r in desired.arm_roles}
    if desired.prune_arm_roles:
        for name in sorted(have.keys() - declared):
            out.changes.append(_arm_role_change(have[name], Action.DELETE, ()))


def _arm_role_change(role: ArmRoleDefinition, action: Action, fields: tuple[FieldChange, ...]) -> Change:
    reason = {
        Action.CREATE: "custom Azure role declared in the manifest",
        Action.UPDATE: "custom Azure role differs from the manifest: " + ", ".join(f.path for f in fields),
        Action.DELETE: "custom Azure role not declared; management.prune_roles: true",
    }[action]
    return Change(
        id=f"management:arm:role_definition:{role.name}",
        action=action,
        target=ARM,
        reason=reason,
        subject=RoleDefinitionSubject(
            plane=Plane.MANAGEMENT,
            scope=role.assignable_scopes[0] if role.assignable_scopes else "/",
            role_id=role.name,
            role=role.role_name,
            payload=role,
            field_changes=fields,
        ),
    )
