"""Reading changes back after apply (`core/effect.py`).

`EffectReads` lists an HSM's role assignments at a scope (or its role definitions) once per read,
whatever number of changes that read shows, and names the region that answered (`regions.py`).
`ManagementReads` lists the Azure role assignments at an ARM scope (`atScope()`, as discovery
does) or reads a vault's access policies (its GET), once per read; ARM names no region.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from azure.core.pipeline import PipelineResponse

from hsmsync.backends.azure.dataplane import assignment_from_sdk, definition_from_sdk
from hsmsync.backends.azure.errors import REPLY_ERRORS, Attempt, call_sdk
from hsmsync.backends.azure.regions import REGION_HEADER, UNKNOWN_REGION
from hsmsync.core.effect import ARM_VIEW, Observation, ReadBack, ReadKind
from hsmsync.core.errors import BackendError, HsmsyncError
from hsmsync.core.state import AccessPolicy, ArmRoleAssignment

_READ_FAILURES: tuple[type[Exception], ...] = (HsmsyncError, *REPLY_ERRORS)


def _failed(read: ReadBack, exc: Exception) -> Observation:
    """A read that failed, and whether it was a denial (the reading identity lacks the right)."""
    if isinstance(exc, BackendError):
        denied = exc.status == 403 or exc.denied is not None
        return Observation(read, "", error=str(exc), denied=denied)  # a denial names no region
    if isinstance(exc, HsmsyncError):
        return Observation(read, "", error=str(exc))
    return Observation(read, "", error=f"unreadable answer: {exc}")


class ManagementReads:
    """The live backend's management-plane read-back: one ARM call per read."""

    def __init__(
        self,
        arm_assignments: Callable[[str], Sequence[ArmRoleAssignment]],
        access_policies: Callable[[str, str], Sequence[AccessPolicy]],
    ) -> None:
        self._arm_assignments = arm_assignments  # ARM scope -> the assignments exactly there
        self._access_policies = access_policies  # (vault name, resource id) -> its entries

    def read(self, read: ReadBack) -> Observation:
        try:
            if read.kind is ReadKind.ARM_ASSIGNMENTS:
                listed = tuple(self._arm_assignments(read.scope))
                return Observation(read, ARM_VIEW, arm_assignments=listed)
            policies = tuple(self._access_policies(read.target, read.scope))
            return Observation(read, ARM_VIEW, access_policies=policies)
        except _READ_FAILURES as exc:
            return _failed(read, exc)


class EffectReads:
    """The live backend's read-back: one SDK list call per read, each answer with its region."""

    def __init__(
        self,
        access_control: Callable[[str], Any],
        url_of: Callable[[str], str | None],
        management: ManagementReads,
    ) -> None:
        self._client = access_control  # url -> KeyVaultAccessControlClient (cached by the factory)
        self._url_of = url_of
        self._management = management

    def read(self, reads: Sequence[ReadBack]) -> list[Observation]:
        return [self._management.read(read) if read.kind.management else self._one(read) for read in reads]

    def _one(self, read: ReadBack) -> Observation:
        url = self._url_of(read.target)
        if not url:
            return Observation(read, UNKNOWN_REGION, error=f"HSM '{read.target}' has no known URL")
        answered: list[str] = []

        def hook(response: PipelineResponse[Any, Any]) -> None:
            # Successful answers only: they name their region (errors, as recorded, do not).
            if 200 <= response.http_response.status_code < 300:
                answered.append(response.http_response.headers.get(REGION_HEADER) or UNKNOWN_REGION)

        client = self._client(url)
        verb = "read back role " + ("definitions" if read.kind is ReadKind.DEFINITIONS else "assignments")
        attempt = Attempt(verb, "data", read.target, read.scope, url=url)
        try:
            if read.kind is ReadKind.DEFINITIONS:
                roles = call_sdk(
                    attempt, lambda: list(client.list_role_definitions("/", raw_response_hook=hook))
                )
                found = Observation(read, "", definitions=tuple(definition_from_sdk(d) for d in roles))
            else:
                items = call_sdk(
                    attempt, lambda: list(client.list_role_assignments(read.scope, raw_response_hook=hook))
                )
                found = Observation(read, "", assignments=tuple(assignment_from_sdk(a) for a in items))
        except _READ_FAILURES as exc:
            return _failed(read, exc)
        # A paged list is one region's view only if every page came from it; otherwise it proves
        # nothing about either region, and the next round reads it again.
        if len(set(answered)) != 1:
            return Observation(read, "", error="the pages of the answer came from different regions")
        return Observation(read, answered[0], found.assignments, found.definitions)
