"""Discovery through the real SDK clients, against the emulator: role assignments are read page by
page into hsmsync's records, with no SDK model built for them (at fleet scale that model layer
was most of hsmsync's CPU), and nothing lost over pages, in either discovery mode."""

from __future__ import annotations

from typing import Any

import pytest
from azure.keyvault.administration import _models

from hsmsync.backends.azure import AzureBackend
from hsmsync_emulator import parse_faults
from tests.live.conftest import ADMIN, APP, GROUP, HSM, KEYS, initial_state, request


def _natural(assignments: Any) -> set[tuple[str, str, str, str]]:
    return {(a.name, a.scope, a.role_definition_id, a.principal_id) for a in assignments}


def test_full_discovery_builds_no_sdk_assignment_models(
    backend: AzureBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    original = _models.KeyVaultRoleAssignment._from_generated

    def counting(cls: Any, generated: Any) -> Any:
        built.append(generated)
        return original.__func__(cls, generated)  # type: ignore[attr-defined]

    monkeypatch.setattr(_models.KeyVaultRoleAssignment, "_from_generated", classmethod(counting))
    live = backend.read_state(request())
    assert _natural(live.hsms[HSM].role_assignments) == _natural(initial_state().hsms[HSM].role_assignments)
    assert built == []


@pytest.mark.parametrize("full", [True, False])
def test_every_page_is_read_in_both_modes(emulator: Any, backend: AzureBackend, full: bool) -> None:
    emulator.set_faults(parse_faults("throttle=0,page=1"))  # one assignment per page
    emulator.clear_log()
    live = backend.read_state(request(full=full))
    got = _natural(live.hsms[HSM].role_assignments)
    expected = _natural(initial_state().hsms[HSM].role_assignments)
    if full:
        assert got == expected
        # '/' and '/keys' list the 3 HSM-wide assignments, a page each; every key scope repeats them.
        lists = [p for _, p, s in emulator.request_log if p.endswith("/roleAssignments") and s == 200]
        assert len(lists) > 2 + len(KEYS)
    else:
        # The manifest's principals only; ADMIN's two assignments come on two pages.
        assert got == {a for a in expected if a[3] in (ADMIN, APP, GROUP)}
        assert len([a for a in got if a[3] == ADMIN]) == 2


def test_calls_to_one_hsm_reuse_their_connections(emulator: Any, backend: AzureBackend) -> None:
    """One SDK client (one connection pool) per HSM: a full discovery's lists go over a few
    kept-alive connections (one per concurrent key worker, and the key listing's), not one each."""
    opened = emulator.connections[HSM]
    emulator.clear_log()
    backend.read_state(request())
    backend.read_state(request())
    calls = [s for _, p, s in emulator.request_log if s != 401 and not p.startswith("/subscriptions")]
    new = emulator.connections[HSM] - opened
    assert len(calls) >= 2 * (3 + len(KEYS))
    # The key listing's connection and one per key worker (3), all reused by the second read.
    assert new <= 1 + 3
