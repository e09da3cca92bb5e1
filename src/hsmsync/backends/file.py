"""FileStateBackend: the fake backend. Live state is a local JSON file (`--state PATH`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Self

from hsmsync.backends.base import Outcome, ReadRequest, check_targets
from hsmsync.core.change_check import check_applicable
from hsmsync.core.effect import Observation, ReadBack, ReadKind
from hsmsync.core.errors import StateError
from hsmsync.core.guard import Caller
from hsmsync.core.plan import Change
from hsmsync.core.state import LiveState
from hsmsync.core.state_edits import apply_to_state
from hsmsync_files.statefile import locked, read_state_file, write_state_file

FILE_REGION = "state file"


class FileStateBackend:
    def __init__(self, path: Path, *, display: Path | None = None) -> None:
        self.path = path
        self.display = display or path

    @property
    def workers(self) -> int:
        return 1  # one file, one lock: changes are applied in plan order

    def describe(self) -> str:
        return f"fake state file {self.display}"

    def read_state(self, request: ReadRequest) -> LiveState:
        state = read_state_file(self.path)  # no lock: writes are atomic, and reading writes nothing
        missing = [h.name for h in request.hsms if h.name not in state.hsms]
        if missing:
            known = ", ".join(sorted(state.hsms)) or "(none)"
            raise StateError(
                f"{self.path}: HSM {', '.join(repr(m) for m in missing)} not in state file; it has: {known}"
            )
        return check_targets(request, state, str(self.display))

    def caller(self) -> Caller | None:
        return None  # a state file has no identity; `--caller` names one

    def apply_change(self, change: Change) -> Outcome:
        check_applicable(change)
        with locked(self.path):
            state = read_state_file(self.path)
            new_state, outcome = apply_to_state(state, change)
            if new_state is not state:
                write_state_file(self.path, new_state)
        return outcome

    def switch_vault_permission_model(self, name: str, resource_id: str, rbac: bool) -> None:
        """`hsmsync migrate` only: flip a vault between access policies and Azure RBAC (its access
        policies stay, as in Azure)."""
        with locked(self.path):
            state = read_state_file(self.path)
            key = next(
                (k for k, v in state.vaults.items() if v.resource_id.lower() == resource_id.lower()), None
            )
            if key is None:
                raise StateError(f"{self.path}: no vault {name} ({resource_id}) to switch")
            vault = state.vaults[key].model_copy(update={"enable_rbac_authorization": rbac})
            write_state_file(self.path, state.model_copy(update={"vaults": {**state.vaults, key: vault}}))

    def read_back(self, reads: Sequence[ReadBack]) -> list[Observation]:
        """The file is consistent: one read of it answers every read back (in one "region")."""
        if not reads:
            return []
        state = read_state_file(self.path)
        return [self._observe(state, read) for read in reads]

    def _observe(self, state: LiveState, read: ReadBack) -> Observation:
        if read.kind is ReadKind.ARM_ASSIGNMENTS:
            return Observation(read, FILE_REGION, arm_assignments=state.arm.role_assignments)
        if read.kind is ReadKind.ACCESS_POLICIES:
            wanted = read.scope.lower()
            vault = next((v for v in state.vaults.values() if v.resource_id.lower() == wanted), None)
            if vault is None:
                return Observation(read, FILE_REGION, error=f"vault '{read.target}' not in {self.display}")
            return Observation(read, FILE_REGION, access_policies=vault.access_policies)
        hsm = state.hsms.get(read.target)
        if hsm is None:
            return Observation(read, FILE_REGION, error=f"HSM '{read.target}' not in {self.display}")
        if read.kind is ReadKind.DEFINITIONS:
            return Observation(read, FILE_REGION, definitions=hsm.role_definitions)
        return Observation(read, FILE_REGION, assignments=hsm.role_assignments)

    def regions(self, hsm: str) -> frozenset[str]:  # noqa: ARG002 - one file, one region for every HSM
        return frozenset({FILE_REGION})

    def other_writers(self) -> list[str]:
        return []  # writes hold the file's lock; nobody else writes between them

    def unread(self) -> list[str]:
        return []  # the file is read whole: its `directory` is there or not

    def close(self) -> None:
        """Nothing is held open between calls."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
