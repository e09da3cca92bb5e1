"""Start and stop the emulator: the store, the certificate, one port per HSM, one for ARM, one per vault."""

from __future__ import annotations

import contextlib
import json
import shutil
import ssl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from hsmsync.core.state import LiveState
from hsmsync.core.state_directory import transitive_groups
from hsmsync_emulator.arm import ArmService
from hsmsync_emulator.arm_account import with_cloud_metadata
from hsmsync_emulator.certs import make_certificate
from hsmsync_emulator.ci_oidc import SimulatedCi
from hsmsync_emulator.dataplane import HsmService
from hsmsync_emulator.faults import FaultConfig, FaultInjector, TokenBucket
from hsmsync_emulator.graph import GRAPH_PREFIX, GraphService
from hsmsync_emulator.login import MSI_PATH, LoginService
from hsmsync_emulator.pipeline import Gateway, RequestLog, Service
from hsmsync_emulator.replica import PRIMARY_REGION, REPLICA_REGION, RegionChooser, RegionView
from hsmsync_emulator.server import Listener, Request, server_context
from hsmsync_emulator.store import Store
from hsmsync_emulator.tokens import (
    ARM_RESOURCE,
    AUDIENCES,
    GRAPH_RESOURCE,
    HSM_RESOURCE,
    VAULT_RESOURCE,
    TokenAuthority,
)
from hsmsync_emulator.vault_dataplane import VaultService
from hsmsync_files.textfiles import write_output_file


def _arm_or_graph_audience(request: Request) -> frozenset[str]:
    return AUDIENCES[GRAPH_RESOURCE if request.path.lower().startswith(GRAPH_PREFIX) else ARM_RESOURCE]


class Emulator:
    """A running emulator. Use as a context manager, or `serve_forever()` then `stop()`."""

    def __init__(
        self,
        state_path: Path,
        *,
        port: int = 0,
        faults: FaultConfig | None = None,
        workdir: Path | None = None,
        persist_interval: float | None = None,
        tls_names: tuple[str, ...] = (),
    ) -> None:
        self._tls_names = tls_names
        self.state_path = state_path.resolve()
        # The replica region is set up once, at start (`set_faults` cannot add or change it).
        self.replica = replica = faults.replica if faults is not None else None
        # A lagging region reads the past: keep that much of it (and a second more).
        history = replica.history + 1.0 if replica is not None else 0.0
        clock = replica.clock if replica is not None else time.monotonic
        self.store = Store(
            self.state_path, persist_interval=persist_interval, history_seconds=history, clock=clock
        )
        self.request_log: RequestLog = []
        # Authenticated RBAC requests per HSM name (the calls the service's rate limit counts).
        self.rbac_calls: Counter[str] = Counter()
        self._log_lock = threading.Lock()
        self._stopped = threading.Event()
        self._injector = FaultInjector(faults or FaultConfig())
        self._buckets: dict[str, TokenBucket | None] = {}
        self._bucket_lock = threading.Lock()
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="hsmsync-emulator-")) if workdir is None else workdir
        self._listeners: list[Listener] = []
        try:
            self._listen(port)
        except BaseException:  # SIGTERM (SystemExit) or Ctrl-C during startup too: leave nothing
            self._close_listeners()
            self._remove_workdir()
            raise
        for listener in self._listeners:
            listener.start()

    def _listen(self, port: int) -> None:
        state = self.store.read()
        self.tenant_id = state.tenant_id
        self.authority = TokenAuthority(state.tenant_id)
        self.ci = SimulatedCi()
        self.login = LoginService(self.store, self.authority, self.ci)
        cert, key = make_certificate(self.workdir, self._tls_names)
        self.ca_cert_path = cert
        try:
            context = server_context(cert, key)
        finally:
            if self._own_workdir:  # a temp folder: the private key lives in the TLS context only
                key.unlink(missing_ok=True)  # (a caller's workdir is the caller's to keep or clean)
        # Graph (`/v1.0/...`) shares the ARM port; GraphService hands everything else to ARM.
        listing_lag = self.replica.arm if self.replica is not None else 0.0
        arm_service = GraphService(self.store, ArmService(self.store, self._page_size, listing_lag))
        arm = self._gateway(arm_service, hsm=None)
        self._arm = Listener(port, with_cloud_metadata(arm, lambda: self.authority_url), context)
        self.login.graph_urls = frozenset({self._arm.base_url.lower()})
        self._listeners.append(self._arm)
        self._hsms: dict[str, Listener] = {}
        for offset, name in enumerate(state.hsms, start=1):
            service = HsmService(name, self.store, self._page_size)
            gateway = self._gateway(service, hsm=name, route=self._regions(name))
            listener = Listener(port + offset if port else 0, gateway, context)
            self._hsms[name] = listener
            self._listeners.append(listener)
        self._login = Listener(port + len(state.hsms) + 1 if port else 0, self.login, context)
        self._listeners.append(self._login)
        self.ci.base_url = self._login.base_url
        self._listen_vaults(state, port + len(state.hsms) + 2 if port else 0, context)

    def _listen_vaults(self, state: LiveState, first_port: int, context: ssl.SSLContext) -> None:
        """One data-plane port per Key Vault of the state, after the token service's."""
        self._vaults: dict[str, Listener] = {}
        self.vault_services: dict[str, VaultService] = {}
        for offset, name in enumerate(state.vaults):
            service = VaultService(name, self.store, self._page_size)
            gateway = Gateway(
                service,
                data_plane=True,
                authority=self.authority,
                audiences=lambda _: AUDIENCES[VAULT_RESOURCE],
                injector=self._injector,
                bucket=lambda: None,
                log=self.request_log,
                log_lock=self._log_lock,
                memberships=lambda oid: transitive_groups(self.store.read().directory, oid),
                challenge_resource=VAULT_RESOURCE,
                data_plane_groups=True,
            )
            listener = Listener(first_port + offset if first_port else 0, gateway, context)
            self.vault_services[name] = service
            self._vaults[name] = listener
            self._listeners.append(listener)

    def _regions(self, hsm: str) -> Callable[[Request], tuple[Service, str]] | None:
        """With a replica for this HSM: each request's region, whose view of the state answers it."""
        config = self.replica
        if config is None or not config.covers(hsm):
            return None
        primary = HsmService(hsm, RegionView(self.store, config.delay), self._page_size)
        replica = HsmService(hsm, RegionView(self.store, config.replica_age), self._page_size)
        chooser = RegionChooser(config)

        def route(request: Request) -> tuple[Service, str]:
            if chooser.replica_serves(request):
                return replica, REPLICA_REGION
            return primary, PRIMARY_REGION

        return route

    def _gateway(
        self,
        service: GraphService | HsmService,
        *,
        hsm: str | None,
        route: Callable[[Request], tuple[Service, str]] | None = None,
    ) -> Gateway:
        return Gateway(
            service,
            data_plane=hsm is not None,
            authority=self.authority,
            audiences=(lambda _: AUDIENCES[HSM_RESOURCE]) if hsm is not None else _arm_or_graph_audience,
            injector=self._injector,
            bucket=(lambda: self._bucket(hsm)) if hsm is not None else (lambda: None),
            log=self.request_log,
            log_lock=self._log_lock,
            counter=(lambda: self.rbac_calls.update((hsm,))) if hsm is not None else None,
            memberships=lambda oid: transitive_groups(self.store.read().directory, oid),
            route=route,
        )

    # ------------------------------------------------------------------------------ configuration

    def _page_size(self) -> int:
        return self._injector.config.page_size

    def _bucket(self, hsm: str) -> TokenBucket | None:
        with self._bucket_lock:
            if hsm not in self._buckets:
                rate = self._injector.config.throttle
                self._buckets[hsm] = TokenBucket(rate) if rate > 0 else None
            return self._buckets[hsm]

    @property
    def faults(self) -> FaultConfig:
        return self._injector.config

    def set_faults(self, faults: FaultConfig) -> None:
        """Change faults, throttle and page size at run time (throttle buckets start full again;
        the replica region stays as it was at start)."""
        self._injector.reconfigure(faults)
        with self._bucket_lock:
            self._buckets.clear()

    # ----------------------------------------------------------------------------------- endpoints

    @property
    def connections(self) -> dict[str, int]:
        """TLS connections accepted so far, per HSM (by name) and for "arm" and "login"."""
        counts = {name: listener.connections for name, listener in self._hsms.items()}
        return counts | {"arm": self._arm.connections, "login": self._login.connections}

    @property
    def arm_url(self) -> str:
        return self._arm.base_url

    @property
    def hsm_urls(self) -> dict[str, str]:
        return {name: listener.base_url for name, listener in self._hsms.items()}

    @property
    def vault_urls(self) -> dict[str, str]:
        """Each Key Vault's data plane (not in the endpoints file: hsmsync manages a vault over ARM)."""
        return {name: listener.base_url for name, listener in self._vaults.items()}

    @property
    def endpoints(self) -> dict[str, Any]:
        return {
            "emulator": True,
            "tenant_id": self.tenant_id,
            "hsms": self.hsm_urls,
            "arm": self.arm_url,
            "graph": self.arm_url,
            "authority": self.authority_url,
            "ca_cert": str(self.ca_cert_path),
        }

    @property
    def authority_url(self) -> str:
        """The token service (the endpoints file's `authority`, azure-identity's authority host)."""
        return self._login.base_url

    def managed_identity_environ(self) -> dict[str, str]:
        """What App Service sets for its managed identity, pointing at this emulator."""
        return {
            "IDENTITY_ENDPOINT": self.authority_url + MSI_PATH,
            "IDENTITY_HEADER": self.login.identity_header,
        }

    def write_endpoints(self, path: Path) -> None:
        """Atomically: whoever polls for the file never reads half of it."""
        write_output_file(path, json.dumps(self.endpoints, indent=2) + "\n", "the endpoints file")

    def state(self) -> LiveState:
        """The emulator's current state (the same as the state file's after every change)."""
        return self.store.read()

    def clear_log(self) -> None:
        with self._log_lock:
            self.request_log.clear()
            self.rbac_calls.clear()

    # ----------------------------------------------------------------------------------- lifecycle

    def serve_forever(self) -> None:
        """Block until `stop()` (from another thread) or KeyboardInterrupt, which propagates."""
        while not self._stopped.wait(0.2):
            pass

    def _close_listeners(self) -> None:
        def stop(listener: Listener) -> None:
            with contextlib.suppress(Exception):  # stopping must get through every listener
                listener.stop()

        # In parallel: each listener's serve loop takes up to one poll interval to notice.
        threads = [threading.Thread(target=stop, args=(lis,)) for lis in self._listeners]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._close_listeners()
        self.store.close()
        self._remove_workdir()

    def _remove_workdir(self) -> None:
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(
    state_path: Path,
    *,
    port: int = 0,
    faults: FaultConfig | None = None,
    workdir: Path | None = None,
    persist_interval: float | None = None,
    tls_names: tuple[str, ...] = (),
) -> Emulator:
    """Load the state file and serve it: one HTTPS port per HSM (data plane), one for ARM and
    Graph, one for the token service, one per Key Vault (its data plane).

    With `port` 0 every port is ephemeral; otherwise ARM listens on `port`, the HSMs on the
    following ports, in the state file's order, the token service on the next one, then the vaults.
    `persist_interval`: see `Store` (benchmarks only). `tls_names`: extra DNS names the certificate
    is valid for (a client that resolves an HSM's Azure host name to 127.0.0.1 can then call it by it).
    `faults.replica`: a second region that lags (`replica.py`).
    """
    return Emulator(
        state_path,
        port=port,
        faults=faults,
        workdir=workdir,
        persist_interval=persist_interval,
        tls_names=tls_names,
    )
