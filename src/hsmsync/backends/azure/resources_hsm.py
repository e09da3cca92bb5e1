"""Managed HSM settings (`KeyVaultManagementClient.managed_hsms`) and audit logging
(`MonitorManagementClient.diagnostic_settings`) through the official SDKs.

An apply sends only the differing HSM properties; a diagnostic setting is written whole when it differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from hsmsync.backends.azure.errors import REPLY_ERRORS, Attempt, call_arm, sdk_errors
from hsmsync.backends.azure.ids import ManagedHsmId, enum_text
from hsmsync.backends.azure.resources_common import ResourceClients, ResourceReading
from hsmsync.backends.base import HsmRef, Outcome
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.plan import Action, Change
from hsmsync.core.state import DiagnosticSetting, HsmSettings, HsmSettingsPatch, NetworkAcls

if TYPE_CHECKING:
    from azure.mgmt.keyvault.models import ManagedHsm
    from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource

# Category groups a Managed HSM's diagnostic setting may use instead of naming `AuditEvent`.
_HSM_CATEGORY_GROUPS = {"audit": ("AuditEvent",), "alllogs": ("AuditEvent",)}


def settings_from_sdk(hsm: ManagedHsm | None) -> HsmSettings:
    props = hsm.properties if hsm is not None else None
    if props is None:
        return HsmSettings()
    acls = props.network_acls
    default = HsmSettings()
    return HsmSettings(
        purge_protection=bool(props.enable_purge_protection),
        soft_delete_retention_days=props.soft_delete_retention_in_days or default.soft_delete_retention_days,
        public_network_access=enum_text(props.public_network_access or "Enabled"),
        network_acls=NetworkAcls(
            default_action=enum_text(acls.default_action or "Allow"),
            bypass=enum_text(acls.bypass or "AzureServices"),
            ip_rules=tuple(r.value for r in acls.ip_rules or ()),
        )
        if acls is not None
        else NetworkAcls(),
    )


def diagnostic_from_sdk(item: DiagnosticSettingsResource) -> DiagnosticSetting:
    categories: list[str] = []
    for log in item.logs or ():
        if not log.enabled:
            continue
        if log.category:
            categories.append(log.category)
        elif log.category_group:
            categories.extend(_HSM_CATEGORY_GROUPS.get(log.category_group.lower(), (log.category_group,)))
    return DiagnosticSetting(
        name=str(item.name),
        categories=tuple(dict.fromkeys(categories)),
        storage_account_id=item.storage_account_id or None,
        workspace_id=item.workspace_id or None,
        event_hub_authorization_rule_id=item.event_hub_authorization_rule_id or None,
        event_hub_name=item.event_hub_name or None,
    )


class HsmResources(ResourceClients):
    """Reads an HSM's settings and diagnostic settings; applies SETTING and DIAGNOSTIC_SETTING changes."""

    def _read_hsm(self, ref: HsmRef, parsed: ManagedHsmId, out: ResourceReading) -> None:
        client = self._keyvault(parsed.subscription_id)
        hsm = call_arm(
            self.clients.arm_url,
            Attempt("read Managed HSM settings", "management", ref.name, ref.resource_id),
            lambda: client.managed_hsms.get(parsed.resource_group, parsed.name),
        )
        monitor = self._monitor(parsed.subscription_id)
        listed = call_arm(
            self.clients.arm_url,
            Attempt("list diagnostic settings", "management", ref.name, ref.resource_id),
            lambda: list(monitor.diagnostic_settings.list(ref.resource_id)),
        )
        try:
            out.settings[ref.name] = settings_from_sdk(hsm)
            props = hsm.properties if hsm is not None else None
            admins = (props.initial_admin_object_ids if props is not None else None) or ()
            out.initial_admins[ref.name] = tuple(sorted(a.lower() for a in admins))
            if props is not None and props.hsm_uri:
                out.urls[ref.name] = props.hsm_uri.rstrip("/")
            out.diagnostics[ref.name] = tuple(
                sorted((diagnostic_from_sdk(d) for d in listed), key=lambda d: d.name)
            )
        except REPLY_ERRORS as exc:
            raise StateError(f"HSM '{ref.name}': unreadable resource settings: {exc}") from exc

    def _apply_setting(self, change: Change) -> Outcome:
        from azure.mgmt.keyvault.models import (
            ManagedHsm,
            ManagedHsmProperties,
            MHSMIPRule,
            MHSMNetworkRuleSet,
        )

        patch = change.payload
        if not isinstance(patch, HsmSettingsPatch):
            raise BackendError(f"change {change.id}: a setting change needs the settings to apply")
        parsed = self._hsm_id(change)
        client = self._keyvault(parsed.subscription_id)
        current = settings_from_sdk(
            call_arm(
                self.clients.arm_url,
                self._attempt("read Managed HSM settings", change),
                lambda: client.managed_hsms.get(parsed.resource_group, parsed.name),
            )
        )
        wanted = patch.applied_to(current)  # unmanaged fields, nested ones too, keep their values
        props: dict[str, Any] = {}
        if wanted.purge_protection != current.purge_protection:
            props["enable_purge_protection"] = wanted.purge_protection
        if wanted.soft_delete_retention_days != current.soft_delete_retention_days:
            props["soft_delete_retention_in_days"] = wanted.soft_delete_retention_days
        if wanted.public_network_access != current.public_network_access:
            props["public_network_access"] = wanted.public_network_access
        acls = wanted.network_acls
        if acls != current.network_acls:
            # The whole rule set, merged: whether Azure merges or replaces `networkAcls`, the
            # fields the manifest leaves out keep their live values.
            props["network_acls"] = MHSMNetworkRuleSet(
                default_action=acls.default_action,
                bypass=acls.bypass,
                ip_rules=[MHSMIPRule(value=v) for v in acls.ip_rules],
            )
        if not props:
            return Outcome.ALREADY_DONE
        fields = ", ".join(sorted(props))
        call_arm(
            self.clients.arm_url,
            self._attempt(f"update Managed HSM settings ({fields})", change),
            lambda: client.managed_hsms.begin_update(
                parsed.resource_group, parsed.name, ManagedHsm(properties=ManagedHsmProperties(**props))
            ).result(),
        )
        return Outcome.DONE

    def _apply_diagnostic(self, change: Change) -> Outcome:
        from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource, LogSettings

        parsed = self._hsm_id(change)
        client = self._monitor(parsed.subscription_id)
        current: DiagnosticSetting | None
        with sdk_errors(self._attempt(f"read diagnostic setting {change.name}", change)):
            try:
                current = diagnostic_from_sdk(client.diagnostic_settings.get(change.scope, change.name))
            except ResourceNotFoundError:
                current = None
        if change.action is Action.DELETE:
            if current is None:
                return Outcome.ALREADY_DONE
            call_arm(
                self.clients.arm_url,
                self._attempt(f"delete diagnostic setting {change.name}", change),
                lambda: client.diagnostic_settings.delete(change.scope, change.name),
            )
            return Outcome.DONE
        wanted = change.payload
        if not isinstance(wanted, DiagnosticSetting):
            raise BackendError(f"change {change.id}: a diagnostic setting change needs the setting")
        if current == wanted:
            return Outcome.ALREADY_DONE
        body = DiagnosticSettingsResource(
            storage_account_id=wanted.storage_account_id,
            workspace_id=wanted.workspace_id,
            event_hub_authorization_rule_id=wanted.event_hub_authorization_rule_id,
            event_hub_name=wanted.event_hub_name,
            logs=[LogSettings(category=c, enabled=True) for c in wanted.categories],
        )
        call_arm(
            self.clients.arm_url,
            self._attempt(f"write diagnostic setting {change.name}", change),
            lambda: client.diagnostic_settings.create_or_update(change.scope, wanted.name, body),
        )
        return Outcome.DONE
