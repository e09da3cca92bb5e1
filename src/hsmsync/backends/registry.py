"""The one place a backend is chosen: `--state PATH` is the fake file, otherwise live Azure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from hsmsync.backends.base import DiscoveryReporter, HsmRef, ReadRequest, StateBackend, VaultRef
from hsmsync.backends.file import FileStateBackend
from hsmsync.core.desired import DesiredState
from hsmsync.core.errors import HsmsyncError


def open_backend(
    *,
    state: Path | None,
    endpoints: Path | None,
    environ: Mapping[str, str],
    cwd: Path,
    allow_hosts: Iterable[str] = (),
    auth: str | None = None,
    progress: DiscoveryReporter | None = None,
) -> StateBackend:
    """`state`/`endpoints` as the user typed them; relative paths are taken from `cwd`. The caller
    closes the backend (`with open_backend(...) as backend:`)."""
    if state is not None:
        if endpoints is not None:
            raise HsmsyncError("--state and --endpoints exclude each other (the fake backend reads a file)")
        return FileStateBackend(cwd / state, display=state)
    try:
        from hsmsync.backends.azure import make_azure_backend
    except ImportError as exc:  # pragma: no cover - only when the install is broken
        raise HsmsyncError(f"the live backend is unavailable: {exc}") from None
    return make_azure_backend(
        endpoints=cwd / endpoints if endpoints else None,
        environ=environ,
        allow_hosts=allow_hosts,
        auth=auth,
        progress=progress,
    )


def read_request_for(desired: DesiredState) -> ReadRequest:
    """What a backend must discover to plan this manifest, and nothing more."""
    hsms = tuple(HsmRef(h.name, h.url, h.resource_id) for h in desired.hsms.values())
    return ReadRequest(
        hsms=hsms,
        arm_scopes=desired.arm_scopes,
        principal_ids=tuple(sorted(desired.principals)),
        key_scopes={h.name: desired.key_names(h.name) for h in desired.hsms.values()},
        # Pruning must see every assignment, not only those of the manifest's principals.
        full_discovery=frozenset(h.name for h in desired.hsms.values() if h.prune),
        arm_full_discovery=desired.management_prune,
        data_settings=frozenset(h.name for h in desired.hsms.values() if h.data_settings is not None),
        vaults=tuple(VaultRef(v.name, v.url, v.resource_id) for v in desired.vaults.values()),
        arm_role_scopes=tuple(dict.fromkeys(s for r in desired.arm_roles for s in r.assignable_scopes)),
    )
