"""ARM resources beyond RBAC, through the official SDKs: Managed HSM settings
(`KeyVaultManagementClient.managed_hsms`), audit logging (`MonitorManagementClient.diagnostic_settings`),
Key Vault access policies (`vaults.get` / `vaults.update_access_policy`) and custom Azure roles
(`AuthorizationManagementClient.role_definitions`).

Every apply reads the resource first, so repeating a change answers ALREADY_DONE, and sends only
what must change: the differing HSM properties; per principal, `add` for missing permissions then
`remove` for extra ones (never `replace`, which would rewrite every other principal's entry).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from azure.core.exceptions import AzureError, ResourceNotFoundError
from pydantic import ValidationError

from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.errors import Attempt, to_backend_error
from hsmsync.backends.azure.ids import ManagedHsmId, enum_text, parse_arm_scope, parse_managed_hsm_id
from hsmsync.backends.base import HsmRef, Outcome, ReadRequest, VaultRef
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DiagnosticSetting,
    HsmSettings,
    HsmSettingsPatch,
    NetworkAcls,
    VaultState,
)
from hsmsync.core.vault_permissions import PERMISSIONS

if TYPE_CHECKING:
    from azure.mgmt.authorization.v2022_04_01.models import RoleDefinition as SdkRoleDefinition
    from azure.mgmt.keyvault import KeyVaultManagementClient
    from azure.mgmt.keyvault.models import AccessPolicyEntry, ManagedHsm
    from azure.mgmt.monitor.v2021_05_01_preview import MonitorManagementClient
    from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource

T = TypeVar("T")
_VAULT_ID = re.compile(
    r"(?i)^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.KeyVault/vaults/([^/]+)$"
)
_POLICY_LISTS = ("keys", "secrets", "certificates", "storage")
# Category groups a Managed HSM's diagnostic setting may use instead of naming `AuditEvent`.
_HSM_CATEGORY_GROUPS = {"audit": ("AuditEvent",), "alllogs": ("AuditEvent",)}
_CANONICAL = {kind: {p.lower(): p for p in names} for kind, names in PERMISSIONS.items()}
_READERS = 8  # resources read at once; the ARM pacing bucket bounds the rate


@dataclass(frozen=True, slots=True)
class VaultId:
    subscription_id: str
    resource_group: str
    name: str


def parse_vault_id(resource_id: str) -> VaultId | None:
    m = _VAULT_ID.match("/" + "/".join(p for p in resource_id.strip().split("/") if p))
    return VaultId(m.group(1), m.group(2), m.group(3)) if m else None


def definition_scope(scope: str) -> str:
    """Where a custom Azure role is created: the subscription of its first assignable scope, else
    that scope (a management group)."""
    parsed = parse_arm_scope(scope)
    return f"/subscriptions/{parsed.subscription_id}" if parsed.subscription_id else parsed.scope


@dataclass
class ResourceReading:
    """What `ResourcePlane.read` found, to be merged into the LiveState."""

    settings: dict[str, HsmSettings] = field(default_factory=dict)  # by HSM name
    diagnostics: dict[str, tuple[DiagnosticSetting, ...]] = field(default_factory=dict)
    initial_admins: dict[str, tuple[str, ...]] = field(default_factory=dict)  # read with the settings
    vaults: dict[str, VaultState] = field(default_factory=dict)
    arm_roles: tuple[ArmRoleDefinition, ...] = ()


# ---------------------------------------------------------------------------------- conversions


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


def _permission_set(names: Iterable[object] | None, kind: str) -> tuple[str, ...]:
    lowered = {enum_text(n).lower() for n in names or ()}
    if "all" in lowered:
        lowered = (lowered - {"all"}) | set(_CANONICAL[kind])
    return tuple(sorted(lowered))


def policy_from_sdk(entry: AccessPolicyEntry) -> AccessPolicy:
    perms = entry.permissions
    return AccessPolicy(
        object_id=str(entry.object_id),
        keys=_permission_set(perms.keys_property if perms else None, "keys"),
        secrets=_permission_set(perms.secrets if perms else None, "secrets"),
        certificates=_permission_set(perms.certificates if perms else None, "certificates"),
        storage=_permission_set(perms.storage if perms else None, "storage"),
    )


def arm_role_from_sdk(role: SdkRoleDefinition) -> ArmRoleDefinition:
    blocks = role.permissions or []
    return ArmRoleDefinition(
        name=str(role.name),
        role_name=role.role_name or "",
        description=role.description or "",
        actions=tuple(a for b in blocks for a in b.actions or ()),
        not_actions=tuple(a for b in blocks for a in b.not_actions or ()),
        data_actions=tuple(a for b in blocks for a in b.data_actions or ()),
        not_data_actions=tuple(a for b in blocks for a in b.not_data_actions or ()),
        assignable_scopes=tuple(role.assignable_scopes or ()),
    )


def _sdk_permissions(policy: AccessPolicy) -> dict[str, list[str]]:
    """The policy's non-empty lists, with the service's spelling (wrapKey, not wrapkey)."""
    out = {}
    for kind in _POLICY_LISTS:
        names = getattr(policy, kind)
        if names:
            out[kind] = [_CANONICAL[kind].get(n, n) for n in names]
    return out


# ---------------------------------------------------------------------------------------- plane


class ResourcePlane:
    """Reads and applies HSM settings, diagnostic settings, vault access policies, custom Azure roles."""

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients

    # -- clients ----------------------------------------------------------------------------------

    def _keyvault(self, subscription_id: str) -> KeyVaultManagementClient:
        return self.clients.keyvault_management(subscription_id)

    def _monitor(self, subscription_id: str) -> MonitorManagementClient:
        from azure.mgmt.monitor.v2021_05_01_preview import MonitorManagementClient

        def build() -> MonitorManagementClient:
            # The factory's ARM kwargs: TLS trust, retries, the ARM pacing bucket, the base URL.
            return MonitorManagementClient(
                self.clients.credential,
                subscription_id,
                **self.clients._arm_kwargs(),  # noqa: SLF001 - the one factory, not duplicated
            )

        client: MonitorManagementClient = self.clients._cached("monitor", subscription_id.lower(), build)  # noqa: SLF001
        return client

    @staticmethod
    def _call(attempt: Attempt, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except AzureError as exc:
            raise to_backend_error(exc, attempt) from exc

    # -- reading ----------------------------------------------------------------------------------

    def read(self, request: ReadRequest) -> ResourceReading:
        """Settings and diagnostic settings of every HSM with a Managed HSM resource id, every
        vault of the request, and the custom Azure roles at the request's ARM scopes."""
        out = ResourceReading()
        hsms = [(ref, parsed) for ref in request.hsms if (parsed := parse_managed_hsm_id(ref.resource_id))]
        scopes = _unique([*request.arm_scopes, *request.arm_role_scopes])
        jobs: list[Callable[[], None]] = []
        for ref, parsed in hsms:
            jobs.append(lambda ref=ref, parsed=parsed: self._read_hsm(ref, parsed, out))  # type: ignore[misc]
        for vault in request.vaults:
            jobs.append(lambda vault=vault: self._read_vault(vault, out))  # type: ignore[misc]
        roles: dict[str, ArmRoleDefinition] = {}
        if scopes:
            jobs.append(lambda: roles.update(self._read_arm_roles(scopes)))
        if not jobs:
            return out
        pool = ThreadPoolExecutor(max(1, min(_READERS, len(jobs))), thread_name_prefix="hsmsync-resources")
        try:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        out.arm_roles = tuple(sorted(roles.values(), key=lambda r: r.name))
        return out

    def _read_hsm(self, ref: HsmRef, parsed: ManagedHsmId, out: ResourceReading) -> None:
        client = self._keyvault(parsed.subscription_id)
        hsm = self._call(
            Attempt("read Managed HSM settings", "management", ref.name, ref.resource_id),
            lambda: client.managed_hsms.get(parsed.resource_group, parsed.name),
        )
        monitor = self._monitor(parsed.subscription_id)
        listed = self._call(
            Attempt("list diagnostic settings", "management", ref.name, ref.resource_id),
            lambda: list(monitor.diagnostic_settings.list(ref.resource_id)),
        )
        try:
            out.settings[ref.name] = settings_from_sdk(hsm)
            props = hsm.properties if hsm is not None else None
            admins = (props.initial_admin_object_ids if props is not None else None) or ()
            out.initial_admins[ref.name] = tuple(sorted(a.lower() for a in admins))
            out.diagnostics[ref.name] = tuple(
                sorted((diagnostic_from_sdk(d) for d in listed), key=lambda d: d.name)
            )
        except (ValidationError, ValueError) as exc:
            raise StateError(f"HSM '{ref.name}': unreadable resource settings: {exc}") from exc

    def _read_vault(self, ref: VaultRef, out: ResourceReading) -> None:
        parsed = parse_vault_id(ref.resource_id)
        if parsed is None:
            raise StateError(f"vault '{ref.name}': '{ref.resource_id}' is not a Key Vault resource id")
        client = self._keyvault(parsed.subscription_id)
        try:
            vault = client.vaults.get(parsed.resource_group, parsed.name)
        except ResourceNotFoundError as exc:
            raise StateError(
                f"vault '{ref.name}': {ref.resource_id} does not exist (hsmsync manages its access "
                "policies, it does not create vaults)"
            ) from exc
        except AzureError as exc:
            raise to_backend_error(
                exc, Attempt("read vault", "management", ref.name, ref.resource_id)
            ) from exc
        props = vault.properties
        try:
            merged: dict[str, AccessPolicy] = {}
            for entry in props.access_policies or ():
                if entry.application_id:
                    continue  # compound identities (user + application) are not modelled
                policy = policy_from_sdk(entry)
                if policy.object_id in merged:
                    policy = _union(merged[policy.object_id], policy)
                merged[policy.object_id] = policy
            out.vaults[ref.name] = VaultState(
                url=ref.url or (props.vault_uri or "").rstrip("/"),
                resource_id=ref.resource_id,
                tenant_id=str(props.tenant_id),
                enable_rbac_authorization=bool(props.enable_rbac_authorization),
                access_policies=tuple(merged.values()),
            )
        except (ValidationError, ValueError) as exc:
            raise StateError(f"vault '{ref.name}': unreadable access policies: {exc}") from exc

    def _read_arm_roles(self, scopes: Sequence[str]) -> dict[str, ArmRoleDefinition]:
        found: dict[str, ArmRoleDefinition] = {}
        for scope in scopes:
            try:
                parsed = parse_arm_scope(scope)
            except ValueError as exc:
                raise StateError(str(exc)) from exc
            listed = self._call(
                Attempt("list custom Azure roles", "management", "arm", scope),
                partial(self._list_custom_roles, parsed.subscription_id, parsed.scope),
            )
            for role in listed:
                if enum_text(role.role_type or "").lower() != "customrole":
                    continue
                try:
                    found.setdefault(str(role.name).lower(), arm_role_from_sdk(role))
                except (ValidationError, ValueError) as exc:
                    raise StateError(
                        f"ARM scope '{scope}': unreadable custom role {role.name!r}: {exc}"
                    ) from exc
        return found

    def _list_custom_roles(self, subscription_id: str | None, scope: str) -> list[SdkRoleDefinition]:
        client = self.clients.authorization(subscription_id)
        return list(client.role_definitions.list(scope, filter="type eq 'CustomRole'"))

    # -- writing ----------------------------------------------------------------------------------

    @staticmethod
    def handles(change: Change) -> bool:
        if change.kind in (Kind.SETTING, Kind.DIAGNOSTIC_SETTING, Kind.ACCESS_POLICY):
            return True
        return change.kind is Kind.ROLE_DEFINITION and change.plane is Plane.MANAGEMENT

    def apply(self, change: Change) -> Outcome:
        if change.kind is Kind.SETTING:
            return self._apply_setting(change)
        if change.kind is Kind.DIAGNOSTIC_SETTING:
            return self._apply_diagnostic(change)
        if change.kind is Kind.ACCESS_POLICY:
            return self._apply_access_policy(change)
        return self._apply_arm_role(change)

    def _attempt(self, verb: str, change: Change) -> Attempt:
        return Attempt(verb, "management", change.target, change.scope, principal_id=change.principal_id)

    def _hsm_id(self, change: Change) -> ManagedHsmId:
        parsed = parse_managed_hsm_id(change.scope)
        if parsed is None:
            raise BackendError(f"change {change.id}: '{change.scope}' is not a Managed HSM resource id")
        return parsed

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
            self._call(
                self._attempt("read Managed HSM settings", change),
                lambda: client.managed_hsms.get(parsed.resource_group, parsed.name),
            )
        )
        props: dict[str, Any] = {}
        if patch.purge_protection is not None and patch.purge_protection != current.purge_protection:
            props["enable_purge_protection"] = patch.purge_protection
        days = patch.soft_delete_retention_days
        if days is not None and days != current.soft_delete_retention_days:
            props["soft_delete_retention_in_days"] = days
        access = patch.public_network_access
        if access is not None and access != current.public_network_access:
            props["public_network_access"] = access
        acls = patch.network_acls
        if acls is not None and acls != current.network_acls:
            props["network_acls"] = MHSMNetworkRuleSet(
                default_action=acls.default_action,
                bypass=acls.bypass,
                ip_rules=[MHSMIPRule(value=v) for v in acls.ip_rules],
            )
        if not props:
            return Outcome.ALREADY_DONE
        fields = ", ".join(sorted(props))
        self._call(
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
        try:
            current: DiagnosticSetting | None = diagnostic_from_sdk(
                client.diagnostic_settings.get(change.scope, change.name)
            )
        except ResourceNotFoundError:
            current = None
        except AzureError as exc:
            raise to_backend_error(
                exc, self._attempt(f"read diagnostic setting {change.name}", change)
            ) from exc
        if change.action is Action.DELETE:
            if current is None:
                return Outcome.ALREADY_DONE
            self._call(
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
        self._call(
            self._attempt(f"write diagnostic setting {change.name}", change),
            lambda: client.diagnostic_settings.create_or_update(change.scope, wanted.name, body),
        )
        return Outcome.DONE

    def _apply_access_policy(self, change: Change) -> Outcome:
        from azure.mgmt.keyvault.models import (
            AccessPolicyEntry,
            Permissions,
            VaultAccessPolicyParameters,
            VaultAccessPolicyProperties,
        )

        parsed = parse_vault_id(change.scope)
        if parsed is None:
            raise BackendError(f"change {change.id}: '{change.scope}' is not a Key Vault resource id")
        client = self._keyvault(parsed.subscription_id)
        vault = self._call(
            self._attempt("read vault access policies", change),
            lambda: client.vaults.get(parsed.resource_group, parsed.name),
        )
        tenant = str(vault.properties.tenant_id)
        object_id = change.name.lower()
        entries = [
            policy_from_sdk(e)
            for e in vault.properties.access_policies or ()
            if not e.application_id and str(e.object_id).lower() == object_id
        ]
        current = _union(*entries) if entries else None
        if change.action is Action.DELETE:
            wanted = AccessPolicy(object_id=object_id)
        else:
            if not isinstance(change.payload, AccessPolicy):
                raise BackendError(f"change {change.id}: an access-policy change needs the wanted entry")
            wanted = change.payload
        missing = _difference(wanted, current)
        extra = _difference(current, wanted) if current is not None else None

        def send(kind: str, policy: AccessPolicy) -> None:
            perms = _sdk_permissions(policy)
            entry = AccessPolicyEntry(
                tenant_id=tenant,
                object_id=object_id,
                permissions=Permissions(
                    keys_property=perms.get("keys", []),
                    secrets=perms.get("secrets", []),
                    certificates=perms.get("certificates", []),
                    storage=perms.get("storage", []),
                ),
            )
            params = VaultAccessPolicyParameters(
                properties=VaultAccessPolicyProperties(access_policies=[entry])
            )
            self._call(
                self._attempt(
                    f"{kind} access-policy permissions of {object_id} on vault {parsed.name}", change
                ),
                lambda: client.vaults.update_access_policy(parsed.resource_group, parsed.name, kind, params),
            )

        done = False
        # Add before remove: the principal never loses, even for a moment, a permission it keeps.
        if current is None and change.action is not Action.DELETE:
            send("add", wanted)  # creates the entry (even one with no permissions)
            done = True
        elif missing is not None and _any(missing):
            send("add", missing)
            done = True
        if change.action is Action.DELETE and current is not None:
            send("remove", current)  # every permission it has: the service drops the entry
            done = True
        elif extra is not None and _any(extra):
            send("remove", extra)
            done = True
        return Outcome.DONE if done else Outcome.ALREADY_DONE

    def _apply_arm_role(self, change: Change) -> Outcome:
        from azure.mgmt.authorization.v2022_04_01.models import Permission
        from azure.mgmt.authorization.v2022_04_01.models import RoleDefinition as RoleDefinitionModel

        scope = definition_scope(change.scope)
        client = self.clients.authorization(parse_arm_scope(scope).subscription_id)
        try:
            found = client.role_definitions.get(scope, change.name)
            current: ArmRoleDefinition | None = arm_role_from_sdk(found)
        except ResourceNotFoundError:
            current = None
        except AzureError as exc:
            raise to_backend_error(
                exc, self._attempt(f"read custom Azure role {change.name}", change)
            ) from exc
        if change.action is Action.DELETE:
            if current is None:
                return Outcome.ALREADY_DONE
            deleted = self._call(
                self._attempt(f"delete custom Azure role {change.name} ({change.role})", change),
                lambda: client.role_definitions.delete(scope, change.name),
            )
            return Outcome.ALREADY_DONE if deleted is None else Outcome.DONE
        role = change.payload
        if not isinstance(role, ArmRoleDefinition):
            raise BackendError(f"change {change.id}: a custom Azure role change needs the role definition")
        if current == role:
            return Outcome.ALREADY_DONE
        body = RoleDefinitionModel(
            role_name=role.role_name,
            description=role.description,
            role_type="CustomRole",
            permissions=[
                Permission(
                    actions=list(role.actions),
                    not_actions=list(role.not_actions),
                    data_actions=list(role.data_actions),
                    not_data_actions=list(role.not_data_actions),
                )
            ],
            assignable_scopes=list(role.assignable_scopes),
        )
        verb = "create" if current is None else "update"
        self._call(
            self._attempt(f"{verb} custom Azure role {change.name} ({role.role_name})", change),
            lambda: client.role_definitions.create_or_update(scope, role.name, body),
        )
        return Outcome.DONE


def _unique(scopes: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for s in scopes:
        seen.setdefault(s.rstrip("/").lower(), s)
    return list(seen.values())


def _union(*policies: AccessPolicy) -> AccessPolicy:
    lists = {kind: tuple(sorted({n for p in policies for n in getattr(p, kind)})) for kind in _POLICY_LISTS}
    return policies[0].model_copy(update=lists)


def _difference(a: AccessPolicy, b: AccessPolicy | None) -> AccessPolicy:
    """a's permissions that b lacks."""
    lists = {
        kind: tuple(sorted(set(getattr(a, kind)) - set(getattr(b, kind) if b else ())))
        for kind in _POLICY_LISTS
    }
    return a.model_copy(update=lists)


def _any(policy: AccessPolicy) -> bool:
    return any(getattr(policy, kind) for kind in _POLICY_LISTS)
