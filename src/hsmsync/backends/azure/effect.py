"""Reading changes back after apply (`core/effect.py`).

`EffectReads` lists an HSM's role assignments at a scope (or its role definitions) once per read,
whatever number of changes that read shows, and names the region that answered (`regions.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from azure.core.pipeline import PipelineResponse

from hsmsync.backends.azure.dataplane import assignment_from_sdk, definition_from_sdk
from hsmsync.backends.azure.errors import REPLY_ERRORS, Attempt, call_sdk
from hsmsync.backends.azure.regions import REGION_HEADER, UNKNOWN_REGION
from hsmsync.core.effect import Observation, ReadBack, ReadKind
from hsmsync.core.errors import BackendError, HsmsyncError


class EffectReads:
    """The live backend's read-back: one SDK list call per read, each answer with its region."""

    def __init__(self, access_control: Callable[[str], Any], url_of: Callable[[str], str | None]) -> None:
        self._client = access_control  # url -> KeyVaultAccessControlClient (cached by the factory)
        self._url_of = url_of

    def read(self, reads: Sequence[ReadBack]) -> list[Observation]:
        return [self._one(read) for read in reads]

    def _one(self, read: ReadBack) -> Observation:
        url = self._url_of(read.hsm)
        if not url:
            return Observation(read, UNKNOWN_REGION, error=f"HSM '{read.hsm}' has no known URL")
        answered: list[str] = []

        def hook(response: PipelineResponse[Any, Any]) -> None:
            # Successful answers only: they name their region (errors, as recorded, do not).
            if 200 <= response.http_response.status_code < 300:
                answered.append(response.http_response.headers.get(REGION_HEADER) or UNKNOWN_REGION)

        client = self._client(url)
        verb = "read back role " + ("definitions" if read.kind is ReadKind.DEFINITIONS else "assignments")
        attempt = Attempt(verb, "data", read.hsm, read.scope, url=url)
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
        except BackendError as exc:
            denied = exc.status == 403 or exc.denied is not None
            return Observation(read, "", error=str(exc), denied=denied)  # a denial names no region
        except HsmsyncError as exc:
            return Observation(read, "", error=str(exc))
        except REPLY_ERRORS as exc:
            return Observation(read, "", error=f"unreadable answer: {exc}")
        # A paged list is one region's view only if every page came from it; otherwise it proves
        # nothing about either region, and the next round reads it again.
        if len(set(answered)) != 1:
            return Observation(read, "", error="the pages of the answer came from different regions")
        return Observation(read, answered[0], found.assignments, found.definitions)
