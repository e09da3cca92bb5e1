"""AzureBackend: the live `StateBackend`, reading and writing through the official Azure SDKs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hsmsync.backends.azure.caller import (
    ARM_SCOPE,
    caller_from_token,
    is_user_token,
    lists_groups,
    token_claims,
)
from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.data_settings import read_data_settings, update_data_setting
from hsmsync.backends.azure.dataplane import DataPlane
from hsmsync.backends.azure.discovery import Discovery
from hsmsync.backends.azure.effect import EffectReads, ManagementReads
from hsmsync.backends.azure.ids import parse_arm_scope, parse_managed_hsm_id
from hsmsync.backends.azure.keys import read_key_details
from hsmsync.backends.azure.management import ManagementPlane
from hsmsync.backends.azure.pacing import ARM_BUCKET
from hsmsync.backends.azure.resources import ResourcePlane
from hsmsync.backends.azure.settings import AzureSettings
from hsmsync.backends.azure.signin import SignInError
from hsmsync.backends.base import DiscoveryReporter, HsmRef, KeyDetail, Outcome, ReadRequest, check_targets
from hsmsync.core.change_check import check_applicable
from hsmsync.core.effect import Observation, ReadBack
from hsmsync.core.errors import BackendError, HsmsyncError, StateError
from hsmsync.core.guard import Caller
from hsmsync.core.plan import Change, Kind, Plane
from hsmsync.core.state import ArmRoleAssignment, ArmState, DataSetting, HsmState, LiveState
from hsmsync.core.state_directory import DirectoryObject
from hsmsync.core.target import ARM, Target
from hsmsync.gc_aside import set_aside_from_gc

if TYPE_CHECKING:
    from hsmsync.backends.azure.graph import GraphDirectory

_UNKNOWN = object()


class AzureBackend:
    """Live Managed HSM local RBAC (data plane) and Azure RBAC (management plane).

    `read_state` must run before `apply_change` for data-plane changes unless the settings give
    the HSM's URL: the plan names HSMs, and the URLs come from the read request.
    """

    def __init__(
        self,
        settings: AzureSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        progress: DiscoveryReporter | None = None,
    ) -> None:
        self.settings = settings
        self.clients = ClientFactory(settings)
        self.data = DataPlane(self.clients)
        self.management = ManagementPlane(self.clients, sleep=sleep, clock=clock)
        self.resources = ResourcePlane(self.clients)  # HSM settings, logging, vaults, custom Azure roles
        self._urls: dict[str, str] = {}
        self._discoveries: list[Discovery] = []
        self._notes: list[str] = []
        self._unread: list[str] = []
        self._caller: Caller | None | object = _UNKNOWN
        self._lock = threading.Lock()
        self._already_done: dict[Target, int] = {}  # by change target
        self.progress = progress

    @property
    def workers(self) -> int:
        """How many HSMs, vaults and ARM scopes the applier may work on at once."""
        return self.settings.pacing.workers

    def describe(self) -> str:
        """`live (Azure SDK) as app <client id> (object <oid>) in tenant <tid>, signed in with
        github: contoso: full discovery (3 keys)`; the identity and per-HSM details after read_state."""
        head = f"live ({self.settings.label})"
        identity = getattr(self.clients.credential_if_built, "identity", None)
        if callable(identity) and identity():
            head += f" as {identity()}"
        details = [d.describe() for d in self._discoveries] + self._notes
        return f"{head}: {'; '.join(details)}" if details else head

    def _read_hsm(self, ref: HsmRef, request: ReadRequest) -> tuple[HsmState, Discovery, str | None]:
        url = self._urls[ref.name]
        full = ref.name in request.full_discovery
        state, discovery = self.data.read_hsm(
            ref.name,
            url,
            full=full,
            principal_ids=request.principal_ids,
            key_names=request.key_scopes.get(ref.name, ()),
            progress=self._progress_hook,
        )
        note = None
        if full and parse_managed_hsm_id(ref.resource_id) is None:
            # Pruning must know who the initial administrators are (read with the HSM's settings).
            note = f"{ref.name}: initial administrators unknown (no Managed HSM resource id)"
        update: dict[str, object] = {"url": ref.url or url, "resource_id": ref.resource_id}
        if ref.name in request.data_settings:
            update["data_settings"] = self._data_settings(ref.name, url, request)
        if request.key_details is not KeyDetail.NONE:
            types = request.key_details is KeyDetail.TYPES
            details = read_key_details(self.clients, ref.name, url, self.data.map_keys, types=types)
            if details is not None:  # else not readable: the keys stay as discovery found them
                update |= {"keys": tuple(p.name for p in details), "key_properties": details}
        state = state.model_copy(update=update)
        return state, discovery, note

    def _data_settings(self, hsm: str, url: str, request: ReadRequest) -> tuple[DataSetting, ...] | None:
        """The HSM's data-plane settings; None, named by `unread`, when they cannot be read and the
        request can do without (export)."""
        try:
            return read_data_settings(self.clients, hsm, url)
        except BackendError as exc:
            if not request.data_settings_if_readable:
                raise
            with self._lock:
                self._unread.append(f"{hsm}: data-plane settings not read ({exc}): not declared")
            return None

    def _read_arm(self, request: ReadRequest) -> ArmState:
        self._progress_hook(len(request.arm_scopes), 0)
        assignments = self.management.read(
            request.arm_scopes,
            request.principal_ids,
            all_principals=request.arm_full_discovery,
            inherited=request.arm_inherited,
            progress=lambda: self._progress_hook(0, 1),
        )
        counts: dict[str, int] = {}
        if request.arm_full_discovery:  # pruning ARM: its deletes may have to make room first
            subs = {parse_arm_scope(s).subscription_id for s in request.arm_scopes}
            counts = self.management.count_by_subscription(sorted(s for s in subs if s))
        return ArmState(role_assignments=assignments, subscription_assignment_counts=counts)

    def _progress_hook(self, total: int, done: int) -> None:
        if self.progress is not None:
            self.progress.discovery_progress(total, done)

    def sign_in(self) -> None:
        """Sign in now, once, before any worker thread needs a token: a failure is one short
        error (SignInError) instead of one per client, and the plan header names the identity."""
        self.clients.credential.get_token(ARM_SCOPE)

    def read_state(self, request: ReadRequest) -> LiveState:
        """Every HSM and the ARM scopes at once (bounded by `settings.pacing.workers`); each HSM's
        RBAC calls are paced by its own bucket, so concurrency never exceeds the service's rate."""
        self._unread = []
        for ref in request.hsms:
            url = self.clients.hsm_url(ref.name, ref.url)
            if not url:
                raise StateError(f"HSM '{ref.name}': no URL in the manifest or the endpoints file")
            # Refused before any call (every request is checked again right before it is sent).
            problem = self.settings.hosts.refusal(url, f"HSM '{ref.name}'")
            if problem is not None:
                raise StateError(problem)
            self._urls[ref.name] = url
        self.sign_in()
        if self.progress is not None:
            self.progress.discovery_started(len(request.hsms))
        workers = max(1, min(self.settings.pacing.workers, len(request.hsms) + 2))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="hsmsync-read")
        # What exists now (the manifest, its desired state) outlives discovery: set aside from the
        # cyclic collector until the pages are read, or each full collection that discovery's
        # allocations trigger walks it again (about a tenth of discovery's CPU at 50 HSMs).
        with set_aside_from_gc():
            try:
                arm_future = pool.submit(self._read_arm, request)
                resources_future = pool.submit(self.resources.read, request)
                futures = [pool.submit(self._read_hsm, ref, request) for ref in request.hsms]
                # The first failure (in manifest order) is reported; no further calls are started.
                results = [f.result() for f in futures]
                arm = arm_future.result()
                resources = resources_future.result()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        if self.progress is not None:
            self.progress.discovery_finished()
        hsms = {ref.name: state for ref, (state, _, _) in zip(request.hsms, results, strict=True)}
        self._discoveries = [discovery for _, discovery, _ in results]
        self._notes = [note for _, _, note in results if note]
        for name, settings in resources.settings.items():
            diagnostics = resources.diagnostics.get(name, ())
            admins = resources.initial_admins.get(name, ())
            update = {
                "settings": settings,
                "diagnostic_settings": diagnostics,
                "initial_admin_object_ids": admins,
                # The HSM read by the manifest's resource id: its own URI, to check the manifest's url.
                "url": resources.urls.get(name, hsms[name].url),
            }
            hsms[name] = hsms[name].model_copy(update=update)
        arm = arm.model_copy(update={"role_definitions": resources.arm_roles})
        used = {a.role_definition_id for a in arm.role_assignments} - {r.name for r in resources.arm_roles}
        if used and request.arm_scopes:  # the built-in roles in use, as ARM defines them
            listed = self.resources.read_builtin_roles(request.arm_scopes[0], used)
            arm = arm.model_copy(update={"builtin_role_definitions": listed})
        live = LiveState(hsms=hsms, arm=arm, vaults=resources.vaults)
        if request.directory:
            live = live.model_copy(update={"directory": self._directory_for(live, request)})
        return check_targets(request, live, "Azure")

    def _directory_for(self, live: LiveState, request: ReadRequest) -> tuple[DirectoryObject, ...] | None:
        """The directory; None, with a note, when it cannot be read and the request can do without."""
        try:
            return self._read_directory(live)
        except HsmsyncError as exc:
            if not request.directory_if_readable:
                raise
            self._unread.append(
                f"group members were not read from Microsoft Graph ({exc}): access through groups is "
                "not shown (grants to a group appear as held by the group alone)"
            )
            return None

    def _read_directory(self, live: LiveState) -> tuple[DirectoryObject, ...]:
        """Microsoft Graph's view of every assignee: groups with their members and PIM
        memberships (graph_members.py). Without Graph (an endpoints file that names none) it is an
        error: an answer that silently left out group members would under-report access."""
        from hsmsync.backends.azure.graph_members import read_directory

        graph = self._graph()
        if graph is None:
            raise StateError("group members come from Microsoft Graph: the endpoints file names no `graph`")
        assignees = {a.principal_id for h in live.hsms.values() for a in h.role_assignments}
        assignees |= {a.principal_id for a in live.arm.role_assignments}
        # A vault's access policy may name a group: its members hold it too (vault_access.py).
        assignees |= {p.object_id for v in live.vaults.values() for p in v.access_policies}
        try:
            return read_directory(graph, sorted(assignees))
        finally:
            graph.close()

    def _graph(self) -> GraphDirectory | None:
        """A Graph client with this backend's credential and host rule (None: no Graph to ask)."""
        from hsmsync.backends.azure.graph import GRAPH_SCOPE, GRAPH_URL, GraphDirectory

        base = self.settings.graph_url
        if base is None and (self.settings.hosts.emulator or self.settings.arm_base_url):
            return None  # an endpoints file without a Graph URL: no token goes to a host it does not name
        base = base or GRAPH_URL
        return GraphDirectory(
            self.clients.credential,
            base_url=base,
            scope=GRAPH_SCOPE if self.settings.hosts.emulator or base == GRAPH_URL else f"{base}/.default",
            connection_verify=self.settings.connection_verify,
            retry=self.settings.retry.client_kwargs(),
            hosts=self.settings.hosts,  # the same host rule as every other call
            timeouts=self.settings.timeouts,
        )

    def caller(self) -> Caller | None:
        """The applying identity, from the credential's token (None when it cannot be told)."""
        if self._caller is _UNKNOWN:
            try:
                token = self.clients.credential.get_token(ARM_SCOPE).token
            except SignInError:
                raise  # not being able to sign in at all is an error, not an unknown caller
            except Exception:  # noqa: BLE001 - any credential failure just means "unknown caller"
                self._caller = None
            else:
                self._caller = caller_from_token(token)
                claims = token_claims(token)
                if isinstance(self._caller, Caller) and claims is not None and not lists_groups(claims):
                    groups = self._member_groups(self._caller.object_id)
                    # A user's groups count on the HSM data plane too (its token just had too
                    # many to list); a service principal's count in Azure RBAC only.
                    if is_user_token(claims):
                        self._caller = Caller(self._caller.object_id, groups)
                    else:
                        self._caller = Caller(self._caller.object_id, arm_only_group_ids=groups)
        return self._caller if isinstance(self._caller, Caller) else None

    def _member_groups(self, object_id: str) -> tuple[str, ...]:
        """The caller's groups from Microsoft Graph (getMemberGroups: transitive); none if Graph
        cannot tell (then the guard sees only the rights held directly, and errs on the side of
        refusing less, never more)."""
        graph = self._graph()
        if graph is None:
            return ()
        try:
            return graph.member_groups(object_id)
        except BackendError:
            return ()
        finally:
            graph.close()

    def apply_change(self, change: Change) -> Outcome:
        check_applicable(change)
        outcome = self._apply(change)
        if outcome is Outcome.ALREADY_DONE:
            # The plan was made from live state read moments ago: someone else made this change.
            with self._lock:
                self._already_done[change.target] = self._already_done.get(change.target, 0) + 1
        return outcome

    def _apply(self, change: Change) -> Outcome:
        if self.resources.handles(change):
            return self.resources.apply(change)
        if change.plane is Plane.MANAGEMENT:
            return self.management.apply(change)
        url = self.clients.hsm_url(change.target.name, self._urls.get(change.target.name))
        if not url:
            raise BackendError(
                f"change {change.id}: HSM '{change.target}' has no known URL (read live state first, "
                "or give it in the endpoints file)"
            )
        if change.kind is Kind.DATA_SETTING:
            assert isinstance(change.payload, DataSetting)  # check_applicable made sure
            return update_data_setting(self.clients, change.target.name, url, change.payload)
        return self.data.apply(change, url)

    def switch_vault_permission_model(self, name: str, resource_id: str, rbac: bool) -> None:
        """`hsmsync migrate` only: flip a vault between access policies and Azure RBAC."""
        self.resources.switch_permission_model(name, resource_id, rbac)

    def read_back(self, reads: Sequence[ReadBack]) -> list[Observation]:
        """Apply's read-back (`core/effect.py`): one list call per HSM and scope, with its region."""
        management = ManagementReads(self._arm_assignments_at, self.resources.read_access_policies)
        return EffectReads(self.clients.access_control, self._url_of, management).read(reads)

    def _arm_assignments_at(self, scope: str) -> tuple[ArmRoleAssignment, ...]:
        """Every principal's Azure role assignments exactly at `scope` (one atScope() list)."""
        return self.management.read([scope], (), all_principals=True)

    def regions(self, hsm: str) -> frozenset[str]:
        url = self._url_of(hsm)
        return self.clients.regions.regions(url) if url else frozenset()

    def _url_of(self, hsm: str) -> str | None:
        return self.clients.hsm_url(hsm, self._urls.get(hsm))

    def unread(self) -> list[str]:
        return list(self._unread)

    def other_writers(self) -> list[str]:
        """Signs that someone else changed the same HSMs or ARM while this run did (one line each):
        429s although hsmsync paces itself below the limits, planned changes found already made."""
        hosts = {urlsplit(url).netloc.lower(): Target.hsm(name) for name, url in self._urls.items()}
        throttled = {
            ARM if key == ARM_BUCKET else hosts.get(key, Target.hsm(key)): n
            for key, n in self.clients.pacer.throttled.items()
        }
        with self._lock:
            already = dict(self._already_done)
        notes = []
        for target in sorted(set(throttled) | set(already), key=lambda t: t.key):
            signs = []
            if throttled.get(target):
                signs.append(f"{throttled[target]} calls throttled although hsmsync paces itself")
            if already.get(target):
                signs.append(
                    f"{already[target]} planned changes were already made by someone else "
                    "(or by an earlier apply that a lagging region did not show yet)"
                )
            what = "ARM" if target.is_arm else f"'{target}'"
            notes.append(
                f"another writer is changing {what} at the same time ({'; '.join(signs)}); "
                "re-run `hsmsync plan` after it finishes to check the result"
            )
        return notes

    def close(self) -> None:
        self.clients.close()

    def __enter__(self) -> AzureBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
