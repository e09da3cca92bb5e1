"""Custom Azure roles (`AuthorizationManagementClient.role_definitions`) through the official SDKs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceNotFoundError

from hsmsync.backends.azure.errors import REPLY_ERRORS, Attempt, call_arm, sdk_errors
from hsmsync.backends.azure.ids import enum_text, parse_arm_scope
from hsmsync.backends.azure.resources_common import ResourceClients
from hsmsync.backends.base import Outcome
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.plan import Action, Change
from hsmsync.core.state import PERMISSION_LISTS, ArmRoleDefinition, Permission

if TYPE_CHECKING:
    from azure.mgmt.authorization.v2022_04_01.models import RoleDefinition as SdkRoleDefinition


def definition_scope(scope: str) -> str:
    """Where a custom Azure role is created: the subscription of its first assignable scope, else
    that scope (a management group)."""
    parsed = parse_arm_scope(scope)
    return f"/subscriptions/{parsed.subscription_id}" if parsed.subscription_id else parsed.scope


def arm_role_from_sdk(role: SdkRoleDefinition) -> ArmRoleDefinition:
    blocks = role.permissions or []
    return ArmRoleDefinition(
        name=str(role.name),
        role_name=role.role_name or "",
        description=role.description or "",
        # each SDK Permission stays its own block: Azure evaluates them apart
        permissions=tuple(
            Permission.model_validate(
                {f: tuple(getattr(b, f, None) or ()) for f in PERMISSION_LISTS}
                # newer API versions return a block's condition (read-only, set by Microsoft)
                | {"condition": getattr(b, "condition", None) or ""}
                | {"condition_version": getattr(b, "condition_version", None) or ""}
            )
            for b in blocks
        ),
        assignable_scopes=tuple(role.assignable_scopes or ()),
    )


class RoleResources(ResourceClients):
    """Reads the custom Azure roles at ARM scopes; applies management-plane ROLE_DEFINITION changes."""

    def _read_arm_roles(self, scopes: Sequence[str]) -> dict[str, ArmRoleDefinition]:
        found: dict[str, ArmRoleDefinition] = {}
        for scope in scopes:
            try:
                parsed = parse_arm_scope(scope)
            except ValueError as exc:
                raise StateError(str(exc)) from exc
            listed = call_arm(
                self.clients.arm_url,
                Attempt("list custom Azure roles", "management", "arm", scope),
                partial(self._list_custom_roles, parsed.subscription_id, parsed.scope),
            )
            for role in listed:
                if enum_text(role.role_type or "").lower() != "customrole":
                    continue
                try:
                    found.setdefault(str(role.name).lower(), arm_role_from_sdk(role))
                except REPLY_ERRORS as exc:
                    raise StateError(
                        f"ARM scope '{scope}': unreadable custom role {role.name!r}: {exc}"
                    ) from exc
        return found

    def read_builtin_roles(self, scope: str, wanted: set[str]) -> tuple[ArmRoleDefinition, ...]:
        """The built-in Azure roles in `wanted` (GUIDs) as ARM lists them at `scope`: what the
        service says a role allows takes precedence over hsmsync's catalog, which may be older."""
        try:
            parsed = parse_arm_scope(scope)
        except ValueError as exc:
            raise StateError(str(exc)) from exc
        client = self.clients.authorization(parsed.subscription_id)
        listed = call_arm(
            self.clients.arm_url,
            Attempt("list built-in Azure roles", "management", "arm", scope),
            lambda: list(client.role_definitions.list(parsed.scope, filter="type eq 'BuiltInRole'")),
        )
        found: dict[str, ArmRoleDefinition] = {}
        for role in listed:
            if str(role.name).lower() not in wanted:
                continue
            try:
                found[str(role.name).lower()] = arm_role_from_sdk(role)
            except REPLY_ERRORS as exc:
                raise StateError(
                    f"ARM scope '{scope}': unreadable built-in role {role.name!r}: {exc}"
                ) from exc
        return tuple(found[k] for k in sorted(found))

    def _list_custom_roles(self, subscription_id: str | None, scope: str) -> list[SdkRoleDefinition]:
        client = self.clients.authorization(subscription_id)
        return list(client.role_definitions.list(scope, filter="type eq 'CustomRole'"))

    def _apply_arm_role(self, change: Change) -> Outcome:
        from azure.mgmt.authorization.v2022_04_01.models import Permission as SdkPermission
        from azure.mgmt.authorization.v2022_04_01.models import RoleDefinition as RoleDefinitionModel

        scope = definition_scope(change.scope)
        client = self.clients.authorization(parse_arm_scope(scope).subscription_id)
        current: ArmRoleDefinition | None
        with sdk_errors(self._attempt(f"read custom Azure role {change.name}", change)):
            try:
                current = arm_role_from_sdk(client.role_definitions.get(scope, change.name))
            except ResourceNotFoundError:
                current = None
        if change.action is Action.DELETE:
            if current is None:
                return Outcome.ALREADY_DONE
            deleted = call_arm(
                self.clients.arm_url,
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
                SdkPermission(**{f: list(getattr(b, f)) for f in PERMISSION_LISTS}) for b in role.permissions
            ],
            assignable_scopes=list(role.assignable_scopes),
        )
        verb = "create" if current is None else "update"
        call_arm(
            self.clients.arm_url,
            self._attempt(f"{verb} custom Azure role {change.name} ({role.role_name})", change),
            lambda: client.role_definitions.create_or_update(scope, role.name, body),
        )
        return Outcome.DONE
