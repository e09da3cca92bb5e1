"""Azure RBAC (management plane) through `AuthorizationManagementClient` (api-version 2022-04-01)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.errors import (
    PRINCIPAL_NOT_FOUND,
    REPLY_ERRORS,
    Attempt,
    call_arm,
    error_code,
    sdk_errors,
    to_backend_error,
)
from hsmsync.backends.azure.ids import (
    ArmScope,
    arm_principal_type,
    arm_role_definition_id,
    parse_arm_scope,
    role_guid,
)
from hsmsync.backends.base import Outcome
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.plan import Action, Change, RoleAssignmentSubject
from hsmsync.core.scopes import arm_scope_key
from hsmsync.core.state import ArmRoleAssignment

if TYPE_CHECKING:
    from azure.mgmt.authorization.v2022_04_01 import AuthorizationManagementClient
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignment, RoleAssignmentCreateParameters

T = TypeVar("T")
_MAX_WAIT_INTERVAL = 30.0
_ARM_READERS = 8  # scopes listed at once; the ARM pacing bucket bounds the rate


def _list_at_scope(client: AuthorizationManagementClient, scope: str) -> list[RoleAssignment]:
    return list(client.role_assignments.list_for_scope(scope, filter="atScope()"))


def _list_subscription(client: AuthorizationManagementClient) -> list[RoleAssignment]:
    return list(client.role_assignments.list_for_subscription())


def _assignment_from_sdk(ra: RoleAssignment, requested: str, *, exact: bool) -> ArmRoleAssignment:
    """One listed assignment; one inherited from above keeps its own scope."""
    try:
        return ArmRoleAssignment(
            name=str(ra.name),
            scope=requested if exact else "/" + "/".join(p for p in (ra.scope or "").split("/") if p),
            role_definition_id=role_guid(ra.role_definition_id or ""),
            principal_id=str(ra.principal_id),
            principal_type=arm_principal_type(ra.principal_type),
            condition=ra.condition,
            condition_version=ra.condition_version if ra.condition else None,
        )
    except REPLY_ERRORS as exc:
        raise StateError(f"ARM scope '{requested}': unreadable role assignment {ra.name!r}: {exc}") from exc


class ManagementPlane:
    """Reads ARM role assignments at the manifest's scopes and applies ARM changes."""

    def __init__(
        self,
        clients: ClientFactory,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = clients
        self._sleep = sleep
        self._clock = clock

    def read(
        self,
        scopes: Sequence[str],
        principal_ids: Sequence[str],
        *,
        all_principals: bool = False,
        inherited: bool = False,
        progress: Callable[[], None] = lambda: None,
    ) -> tuple[ArmRoleAssignment, ...]:
        """Assignments exactly at each scope, of the given principals only unless `all_principals`.
        atScope() also returns the assignments inherited from above (subscription, management
        groups, the tenant root): `inherited` keeps those too, each at its own scope. One paged
        list per scope, a few scopes at once."""
        wanted = {p.lower() for p in principal_ids}
        found: dict[str, ArmRoleAssignment] = {}
        parsed_scopes = []
        for requested in scopes:
            try:
                parsed_scopes.append((requested, parse_arm_scope(requested)))
            except ValueError as exc:
                raise StateError(str(exc)) from exc

        def list_one(item: tuple[str, ArmScope]) -> list[RoleAssignment]:
            requested, parsed = item
            client = self.clients.authorization(parsed.subscription_id)
            listed = call_arm(
                self.clients.arm_url,
                Attempt("list role assignments", "management", "arm", requested),
                partial(_list_at_scope, client, parsed.scope),
            )
            progress()
            return listed

        workers = max(1, min(_ARM_READERS, len(parsed_scopes)))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="hsmsync-arm")
        try:
            listed = list(pool.map(list_one, parsed_scopes))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for (requested, parsed), items in zip(parsed_scopes, listed, strict=True):
            for ra in items:
                exact = arm_scope_key(ra.scope or "") == arm_scope_key(parsed.scope)
                if not exact and not inherited:
                    continue
                if not all_principals and (ra.principal_id or "").lower() not in wanted:
                    continue
                item = _assignment_from_sdk(ra, requested, exact=exact)
                found.setdefault(item.name, item)
        return tuple(sorted(found.values(), key=lambda a: (arm_scope_key(a.scope), a.name)))

    def count_by_subscription(self, subscriptions: Sequence[str]) -> dict[str, int]:
        """Every role assignment in each subscription (one paged list each): what its limit counts."""
        counts: dict[str, int] = {}
        for sub in subscriptions:
            client = self.clients.authorization(sub)
            listed = call_arm(
                self.clients.arm_url,
                Attempt("count role assignments", "management", "arm", f"/subscriptions/{sub}"),
                partial(_list_subscription, client),
            )
            prefix = f"/subscriptions/{sub.lower()}"
            counts[sub.lower()] = sum(1 for ra in listed if arm_scope_key(ra.scope or "").startswith(prefix))
        return counts

    # -- writing ----------------------------------------------------------------------------------

    def apply(self, change: Change) -> Outcome:
        if change.action is Action.DELETE:
            return self._delete(change)
        if change.action is Action.CREATE:
            return self._create(change)
        return self._update_condition(change)

    def _attempt(self, verb: str, change: Change) -> Attempt:
        return Attempt(
            verb,
            "management",
            "arm",
            change.scope,
            url=self.clients.arm_url,
            role_id=change.role_id,
            principal_id=change.principal_id,
        )

    def _parameters(self, change: Change, scope: str) -> RoleAssignmentCreateParameters:
        from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

        subject = change.subject
        condition = subject.condition if isinstance(subject, RoleAssignmentSubject) else None
        version = subject.condition_version if isinstance(subject, RoleAssignmentSubject) else None
        return RoleAssignmentCreateParameters(
            role_definition_id=arm_role_definition_id(scope, change.role_id),
            principal_id=change.principal_id or "",
            principal_type=change.principal_type or "User",  # the model defaults to User: always set
            condition=condition,
            condition_version=version if condition else None,
        )

    def _update_condition(self, change: Change) -> Outcome:
        """An assignment's condition, set by a PUT of the same assignment (ARM updates it in place)."""
        subject = change.subject
        assert isinstance(subject, RoleAssignmentSubject)
        parsed = parse_arm_scope(change.scope)
        client = self.clients.authorization(parsed.subscription_id)
        with sdk_errors(self._attempt(f"read role assignment {change.name}", change)):
            try:
                current = client.role_assignments.get(parsed.scope, change.name)
            except ResourceNotFoundError:
                raise BackendError(
                    f"change {change.id}: role assignment {change.name} no longer exists; plan again"
                ) from None
        if (current.condition or None, current.condition_version if current.condition else None) == (
            subject.condition,
            subject.condition_version,
        ):
            return Outcome.ALREADY_DONE
        call_arm(
            self.clients.arm_url,
            self._attempt(f"update the condition of role assignment {change.name}", change),
            lambda: client.role_assignments.create(
                parsed.scope, change.name, self._parameters(change, parsed.scope)
            ),
        )
        return Outcome.DONE

    def _create(self, change: Change) -> Outcome:
        if not change.principal_id:
            raise BackendError(f"change {change.id}: a role assignment needs a principal id")
        parsed = parse_arm_scope(change.scope)
        client = self.clients.authorization(parsed.subscription_id)
        parameters = self._parameters(change, parsed.scope)
        attempt = self._attempt(f"create role assignment {change.name}", change)
        # ARM answers a repeated PUT of the same assignment with 201, so look first.
        if self._exists(client, parsed.scope, change):
            return Outcome.ALREADY_DONE
        settings = self.clients.settings
        deadline = self._clock() + settings.principal_wait_seconds
        interval = max(settings.principal_wait_interval, 0.0)
        waited = False
        while True:
            with sdk_errors(attempt):
                try:
                    client.role_assignments.create(parsed.scope, change.name, parameters)
                except HttpResponseError as exc:
                    code = error_code(exc)
                    if code == "roleassignmentexists":
                        return Outcome.ALREADY_DONE
                    if code != PRINCIPAL_NOT_FOUND:
                        raise
                    if self._clock() + interval <= deadline:
                        self._sleep(interval)
                        interval = min(max(interval * 2, 0.01), _MAX_WAIT_INTERVAL)
                        waited = True
                        continue
                    err = to_backend_error(exc, attempt)
                    extra = f" after retrying for {settings.principal_wait_seconds:g}s" if waited else ""
                    raise BackendError(
                        f"{err}. The principal does not exist in the directory{extra}: check the id, or "
                        "retry later if it was created minutes ago (directory replication delay)",
                        code=err.code,
                        status=err.status,
                    ) from exc
            return Outcome.DONE

    def _exists(self, client: AuthorizationManagementClient, scope: str, change: Change) -> bool:
        """Does an assignment with this name already give this role to this principal here?"""
        with sdk_errors(self._attempt(f"read role assignment {change.name}", change)):
            try:
                current = client.role_assignments.get(scope, change.name)
            except ResourceNotFoundError:
                return False
        try:
            same_role = role_guid(current.role_definition_id or "") == change.role_id.lower()
        except ValueError:
            return False
        return same_role and (current.principal_id or "").lower() == (change.principal_id or "").lower()

    def _delete(self, change: Change) -> Outcome:
        parsed = parse_arm_scope(change.scope)
        client = self.clients.authorization(parsed.subscription_id)
        result = call_arm(
            self.clients.arm_url,
            self._attempt(f"delete role assignment {change.name}", change),
            lambda: client.role_assignments.delete(parsed.scope, change.name),
        )
        return Outcome.ALREADY_DONE if result is None else Outcome.DONE
