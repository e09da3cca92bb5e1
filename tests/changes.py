"""Build a Change from the flat fields the plan JSON shows, for tests written against them: the
kind picks the subject (core/plan.py), the way the planner builds each kind."""

from __future__ import annotations

from typing import Any

from hsmsync.core.plan import (
    AccessPolicySubject,
    Action,
    Change,
    DataSettingSubject,
    DiagnosticSettingSubject,
    FieldChange,
    Kind,
    PermissionModelSubject,
    Plane,
    RoleAssignmentSubject,
    RoleDefinitionSubject,
    SettingsSubject,
    Subject,
)
from hsmsync.core.state import DataSetting, HsmSettingsPatch
from hsmsync.core.target import Target, TargetKind


def flat_change(
    id: str,
    action: Action,
    kind: Kind,
    plane: Plane,
    target: Target,
    scope: str,
    name: str,
    role: str,
    role_id: str,
    reason: str,
    principal: str | None = None,
    principal_id: str | None = None,
    principal_type: str | None = None,
    definition: Any = None,
    payload: Any = None,
    field_changes: tuple[FieldChange, ...] = (),
    added_data_actions: tuple[str, ...] = (),
    removed_data_actions: tuple[str, ...] = (),
    risks: tuple[str, ...] = (),
) -> Change:
    subject: Subject
    if kind is Kind.ROLE_ASSIGNMENT:
        subject = RoleAssignmentSubject(
            plane, scope, name, role, role_id, principal, principal_id or "", principal_type
        )
    elif kind is Kind.ROLE_DEFINITION:
        subject = RoleDefinitionSubject(
            plane,
            scope,
            role_id or name,
            role,
            definition,
            payload,
            field_changes,
            added_data_actions,
            removed_data_actions,
        )
    elif kind is Kind.ACCESS_POLICY:
        subject = AccessPolicySubject(
            scope, principal_id or name, principal, principal_type, payload, field_changes
        )
    elif kind is Kind.SETTING and target.kind is TargetKind.VAULT:
        subject = PermissionModelSubject(scope, field_changes)
    elif kind is Kind.SETTING:
        subject = SettingsSubject(scope, payload or HsmSettingsPatch(), field_changes)
    elif kind is Kind.DATA_SETTING:
        subject = DataSettingSubject(scope, payload or DataSetting(name=name, value="false"), field_changes)
    else:
        subject = DiagnosticSettingSubject(scope, payload, field_changes)
    return Change(id=id, action=action, target=target, reason=reason, subject=subject, risks=risks)
