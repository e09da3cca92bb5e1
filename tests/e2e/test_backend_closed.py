"""Every command closes the live backend it opened: each HTTP session an Azure SDK client opened
during the command is closed when the command returns (no leaked sockets in a long-lived
process, e.g. a CI runner calling `main` several times)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline.transport import RequestsTransport

from tests.conftest import run_cli


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[RequestsTransport]:
    """Every SDK transport that opened an HTTP session during the test."""
    transports: list[RequestsTransport] = []
    original = RequestsTransport.open

    def recording_open(self: RequestsTransport) -> None:
        original(self)
        transports.append(self)

    monkeypatch.setattr(RequestsTransport, "open", recording_open)
    return transports


def _still_open(transports: list[Any]) -> list[Any]:
    return [t for t in transports if t.session is not None]


@pytest.mark.parametrize(
    "argv",
    [
        ("plan",),
        ("drift",),
        ("apply", "--auto-approve"),
        ("lint",),
        ("whocan", "--hsm", "contoso", "sign"),
        ("explain", "app-vm"),
    ],
)
def test_a_live_command_closes_every_client_it_opened(
    emulated_contoso: Path, opened: list[RequestsTransport], argv: tuple[str, ...]
) -> None:
    ran = run_cli(*argv, "--live", "--endpoints", "endpoints.json", cwd=emulated_contoso)
    assert ran.exit_code in (0, 2), ran.stderr
    assert opened, "the command made no SDK call: the test would prove nothing"
    assert _still_open(opened) == []


def test_a_failing_live_command_closes_its_clients_too(
    emulated_contoso: Path, opened: list[RequestsTransport]
) -> None:
    (emulated_contoso / "hsmsync.yaml").write_text(
        (emulated_contoso / "hsmsync.yaml").read_text().replace("contosomhsm", "elsewhere")
    )
    ran = run_cli("plan", "--live", "--endpoints", "endpoints.json", cwd=emulated_contoso)
    assert ran.exit_code == 1, ran.stderr
    assert opened and _still_open(opened) == []
