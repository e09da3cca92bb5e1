"""Managed HSM local RBAC through `KeyVaultAccessControlClient` (+ `KeyClient` to list keys).

Discovery, per HSM per run:
- FULL: every key is listed and assignments are listed at '/', '/keys' and each '/keys/<k>'
  (listing '/' does not return key-level assignments). Required when the HSM prunes.
- PRINCIPALS: one `principalId eq '<id>'` query per manifest principal at '/' (the service returns
  that principal's assignments at, above and below '/'). Chosen when the HSM does not prune and
  that is fewer calls than FULL (principals < keys + 2), or when keys cannot be listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from hsmsync.backends.azure.assignment_pages import list_assignments
from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.discovery import Discovery, DiscoveryMode, choose_mode
from hsmsync.backends.azure.errors import (
    REPLY_ERRORS,
    Attempt,
    call_sdk,
    error_code,
    sdk_errors,
    service_error,
    to_backend_error,
)
from hsmsync.backends.azure.ids import data_role_definition_id, enum_text, role_guid, scope_text
from hsmsync.backends.base import Outcome
from hsmsync.core.desired import assignment_key
from hsmsync.core.errors import BackendError, StateError
from hsmsync.core.ids import deterministic_name
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.roledefs import diff_role_definition
from hsmsync.core.state import PERMISSION_LISTS, DataRoleAssignment, HsmState, Permission, RoleDefinition

if TYPE_CHECKING:
    from azure.keyvault.administration import (
        KeyVaultAccessControlClient,
        KeyVaultRoleAssignment,
        KeyVaultRoleDefinition,
    )

T = TypeVar("T")
_HSM_WIDE_SCOPES = ("/", "/keys")


class _Gone(HttpResponseError):
    """A 404 the SDK would otherwise swallow on delete: tells DONE from ALREADY_DONE."""


_DELETE_ERROR_MAP: dict[int, type[HttpResponseError]] = {404: _Gone}


def definition_from_sdk(d: KeyVaultRoleDefinition) -> RoleDefinition:
    def block(p: Any) -> Permission:
        # each KeyVaultPermission stays its own block: the service evaluates them apart
        return Permission.model_validate(
            {f: tuple(enum_text(a) for a in (getattr(p, f, None) or [])) for f in PERMISSION_LISTS}
        )

    return RoleDefinition(
        name=str(d.name),
        role_name=d.role_name or "",
        description=d.description or "",
        role_type="AKVBuiltInRole" if enum_text(d.role_type or "") == "AKVBuiltInRole" else "CustomRole",
        permissions=tuple(block(p) for p in d.permissions or []),
        assignable_scopes=tuple(scope_text(s) for s in (d.assignable_scopes or ["/"])),
    )


def assignment_from_sdk(a: KeyVaultRoleAssignment) -> DataRoleAssignment:
    props = a.properties
    if props is None or not props.role_definition_id or not props.principal_id:
        raise ValueError("assignment without properties")
    return DataRoleAssignment(
        name=str(a.name),
        scope=scope_text(props.scope or "/"),
        role_definition_id=role_guid(props.role_definition_id),
        principal_id=props.principal_id,
    )


def _no_progress(total: int, done: int) -> None:
    """Discovery progress: `total` more list calls became known, `done` more were made."""


Progress = Callable[[int, int], None]
_At = Callable[..., Attempt]  # (verb, scope="/") -> the Attempt of one call on this HSM


def _taken_but_not_visible(change: Change, attempt: Attempt, exc: HttpResponseError) -> Outcome:
    """The service says the name is taken, but the region that answered the read does not show it:
    a write still replicating (a multi-region HSM; Azure's 201 before the effect). A name hsmsync
    derives from exactly this grant (scope, role, principal) is this grant: already so, and apply's
    read-back (`core/effect.py`) confirms it. Any other name cannot be told apart: an error."""
    principal = change.principal_id or ""
    key = assignment_key(Plane.DATA, change.target.name, change.scope, change.role_id, principal)
    if change.name.lower() == deterministic_name(*key):
        return Outcome.ALREADY_DONE
    code, message = service_error(exc)
    raise BackendError(
        f"{attempt.describe()} failed: the name is taken, but the assignment holding it cannot be read "
        f"yet (still replicating?); plan again in a few minutes ({code}: {message})",
        code=code,
        status=exc.status_code,
    )


class DataPlane:
    """Reads and writes one or more HSMs' role definitions and role assignments."""

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients

    def map_keys(self, fn: Callable[[str], list[T]], items: Sequence[str]) -> list[T]:
        """fn over items, a few at once (the HSM's pacing bucket bounds the rate), in order."""
        workers = max(1, min(self.clients.settings.pacing.key_workers, len(items)))
        if workers == 1:
            return [x for item in items for x in fn(item)]
        pool = ThreadPoolExecutor(workers, thread_name_prefix="hsmsync-keys")
        try:
            return [x for batch in pool.map(fn, items) for x in batch]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after an error, start no more calls

    # -- plumbing ---------------------------------------------------------------------------------

    def _client(self, url: str) -> KeyVaultAccessControlClient:
        return self.clients.access_control(url)

    # -- reading ----------------------------------------------------------------------------------

    def read_hsm(
        self,
        name: str,
        url: str,
        *,
        full: bool,
        principal_ids: Sequence[str],
        key_names: Sequence[str],
        progress: Progress = _no_progress,
    ) -> tuple[HsmState, Discovery]:
        """The HSM's definitions and the assignments the chosen discovery mode finds."""
        client = self._client(url)
        principal_ids = sorted({p.lower() for p in principal_ids})

        def at(verb: str, scope: str = "/") -> Attempt:
            return Attempt(verb, "data", name, scope, url=url)

        progress(2, 0)  # role definitions and keys; the assignment lists follow once keys are known
        definitions = call_sdk(at("list role definitions"), lambda: list(client.list_role_definitions("/")))
        progress(0, 1)
        keys, keys_complete, note = self._list_keys(name, url, full=full, principals=len(principal_ids))
        progress(0, 1)
        mode = choose_mode(
            full=full,
            principals=len(principal_ids),
            keys_seen=None if keys is None else len(keys),
            keys_complete=keys_complete,
        )
        if mode is DiscoveryMode.FULL:
            assert keys is not None
            scopes = [*_HSM_WIDE_SCOPES, *(f"/keys/{k}" for k in sorted({*keys, *key_names}))]
            raw = self._list_by_scope(client, name, at, scopes, progress)
        else:
            raw = self._list_by_principal(client, name, at, principal_ids, progress)
        state = HsmState(
            url=url,
            role_definitions=self._definitions(name, definitions, builtin=False),
            builtin_role_definitions=self._definitions(name, definitions, builtin=True),
            role_assignments=self._assignments(raw),
            keys=tuple(sorted(keys)) if keys is not None and keys_complete else None,  # None: not known
        )
        complete_keys = len(keys) if keys is not None and keys_complete else None
        return state, Discovery(name, mode, len(principal_ids), complete_keys, note)

    def _list_by_scope(
        self, client: KeyVaultAccessControlClient, hsm: str, at: _At, scopes: list[str], progress: Progress
    ) -> list[DataRoleAssignment]:
        """FULL discovery: every assignment at every scope, each once."""
        progress(len(scopes), 0)

        def list_scope(scope: str) -> list[DataRoleAssignment]:
            # A key scope's list repeats the HSM-wide ones (listed at '/' and '/keys'): only its
            # own are kept (and read), so a fleet's discovery reads and holds each assignment once.
            only_at = None if scope in _HSM_WIDE_SCOPES else scope.lower()
            found = call_sdk(
                at("list role assignments", scope),
                lambda: list(list_assignments(client, hsm, scope, only_at=only_at)),
            )
            progress(0, 1)
            return found

        return self.map_keys(list_scope, scopes)

    def _list_by_principal(
        self,
        client: KeyVaultAccessControlClient,
        hsm: str,
        at: _At,
        principal_ids: list[str],
        progress: Progress,
    ) -> list[DataRoleAssignment]:
        """PRINCIPALS discovery: the assignments of the manifest's principals only."""
        progress(len(principal_ids), 0)

        def list_principal(pid: str) -> list[DataRoleAssignment]:
            attempt = replace(at("list role assignments of principal"), principal_id=pid)
            found = call_sdk(
                attempt, lambda: list(list_assignments(client, hsm, "/", f"principalId eq '{pid}'"))
            )
            progress(0, 1)
            return [a for a in found if a.principal_id == pid]

        return self.map_keys(list_principal, principal_ids)

    def _list_keys(
        self, name: str, url: str, *, full: bool, principals: int
    ) -> tuple[list[str] | None, bool, str]:
        """(key names, listed completely?, note). Stops early once PRINCIPALS is known to be cheaper."""
        if not full and principals < 2:
            return None, False, ""
        # Keys beyond `limit` make FULL cost more calls than PRINCIPALS.
        limit = None if full else principals - 2
        attempt = Attempt(
            "list keys" + (" (full discovery, because the HSM prunes)" if full else ""),
            "data",
            name,
            "/keys",
            url=url,
        )
        names: list[str] = []
        with sdk_errors(attempt):
            try:
                for props in self.clients.keys(url).list_properties_of_keys():
                    if props.name:
                        names.append(props.name)
                    if limit is not None and len(names) > limit:
                        return names, False, ""
            except HttpResponseError as exc:
                if not full and exc.status_code == 403:
                    return None, False, "keys not readable"
                raise
        return names, True, ""

    @staticmethod
    def _definitions(
        hsm: str, items: Iterable[KeyVaultRoleDefinition], *, builtin: bool
    ) -> tuple[RoleDefinition, ...]:
        out: list[RoleDefinition] = []
        for item in items:
            try:
                role = definition_from_sdk(item)
            except REPLY_ERRORS as exc:
                raise StateError(f"HSM '{hsm}': unreadable role definition {item.name!r}: {exc}") from exc
            if role.is_builtin == builtin:
                out.append(role)
        return tuple(sorted(out, key=lambda r: r.name))

    @staticmethod
    def _assignments(items: Iterable[DataRoleAssignment]) -> tuple[DataRoleAssignment, ...]:
        by_name: dict[str, DataRoleAssignment] = {}
        for a in items:
            by_name.setdefault(a.name, a)
        return tuple(sorted(by_name.values(), key=lambda a: (a.scope.lower(), a.name)))

    # -- writing ----------------------------------------------------------------------------------

    def apply(self, change: Change, url: str) -> Outcome:
        if change.kind is Kind.ROLE_ASSIGNMENT:
            if change.action is Action.DELETE:
                return self._delete_assignment(change, url)
            return self._create_assignment(change, url)
        if change.action is Action.DELETE:
            return self._delete_definition(change, url)
        return self._set_definition(change, url)

    def _attempt(self, verb: str, change: Change, url: str) -> Attempt:
        return Attempt(
            verb,
            "data",
            change.target.name,
            change.scope,
            url=url,
            role_id=change.role_id,
            principal_id=change.principal_id,
        )

    def _create_assignment(self, change: Change, url: str) -> Outcome:
        if not change.principal_id:
            raise BackendError(f"change {change.id}: a role assignment needs a principal id")
        attempt = self._attempt(f"create role assignment {change.name}", change, url)
        client = self._client(url)
        with sdk_errors(attempt):
            try:
                role = data_role_definition_id(change.role_id)
                client.create_role_assignment(change.scope, role, change.principal_id, name=change.name)
            except HttpResponseError as exc:
                code = error_code(exc)
                if code == "matchingroleassignmentexists":
                    return Outcome.ALREADY_DONE  # same role, principal and scope under another name
                if code != "roleassignmentexists" and exc.status_code != 409:
                    raise
                return self._check_same_assignment(change, url, attempt, exc)  # the name is taken
        return Outcome.DONE

    def _check_same_assignment(
        self, change: Change, url: str, attempt: Attempt, exc: HttpResponseError
    ) -> Outcome:
        """The name is taken: ALREADY_DONE if it holds the same role for the same principal."""
        read = self._attempt(f"read existing role assignment {change.name}", change, url)
        with sdk_errors(read):
            try:
                existing = self._client(url).get_role_assignment(change.scope, change.name)
            except ResourceNotFoundError:
                return _taken_but_not_visible(change, attempt, exc)
        try:
            live = assignment_from_sdk(existing)
        except REPLY_ERRORS:
            raise to_backend_error(exc, attempt) from exc
        if (
            live.role_definition_id == change.role_id.lower()
            and live.principal_id == (change.principal_id or "").lower()
        ):
            return Outcome.ALREADY_DONE
        code, message = service_error(exc)
        raise BackendError(
            f"{attempt.describe()} failed: the name is already used by an assignment of role "
            f"{live.role_definition_id} to principal {live.principal_id} at '{live.scope}' "
            f"({code}: {message})",
            code=code,
            status=exc.status_code,
        )

    def _delete_assignment(self, change: Change, url: str) -> Outcome:
        attempt = self._attempt(f"delete role assignment {change.name}", change, url)
        client = self._client(url)
        with sdk_errors(attempt):
            try:
                client.delete_role_assignment(change.scope, change.name, error_map=_DELETE_ERROR_MAP)
            except (_Gone, ResourceNotFoundError):
                return Outcome.ALREADY_DONE
        return Outcome.DONE

    def _set_definition(self, change: Change, url: str) -> Outcome:
        desired = change.definition
        if desired is None:
            raise BackendError(f"change {change.id}: a role-definition {change.action} needs the definition")
        verb = "create" if change.action is Action.CREATE else "update"
        attempt = self._attempt(f"{verb} role definition {change.name} ('{desired.role_name}')", change, url)
        client = self._client(url)
        current = self._get_definition(change, url, client)
        if current is not None and diff_role_definition(current, desired) is None:
            return Outcome.ALREADY_DONE
        from azure.keyvault.administration import KeyVaultPermission

        permissions = [
            KeyVaultPermission(**{f: list(getattr(block, f)) for f in PERMISSION_LISTS})
            for block in desired.permissions
        ]
        call_sdk(
            attempt,
            lambda: client.set_role_definition(
                "/",
                name=change.name,
                role_name=desired.role_name,
                description=desired.description,
                permissions=permissions,
                assignable_scopes=list(desired.assignable_scopes) or ["/"],
            ),
        )
        return Outcome.DONE

    def _get_definition(
        self, change: Change, url: str, client: KeyVaultAccessControlClient
    ) -> RoleDefinition | None:
        attempt = self._attempt(f"read role definition {change.name}", change, url)
        with sdk_errors(attempt):
            try:
                found = client.get_role_definition("/", change.name)
            except ResourceNotFoundError:
                return None
        try:
            return definition_from_sdk(found)
        except REPLY_ERRORS:
            return None  # a definition hsmsync cannot read is replaced by the desired one

    def _delete_definition(self, change: Change, url: str) -> Outcome:
        attempt = self._attempt(f"delete role definition {change.name} ('{change.role}')", change, url)
        with sdk_errors(attempt):
            try:
                self._client(url).delete_role_definition("/", change.name, error_map=_DELETE_ERROR_MAP)
            except (_Gone, ResourceNotFoundError):
                return Outcome.ALREADY_DONE
        return Outcome.DONE
