"""The CLI's structure: every command returns an ExitStatus, the reporter is passed explicitly
(never through the argparse namespace), and backends are context managers that say how many
workers they serve."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hsmsync.backends.registry import open_backend
from hsmsync.cli import ExitStatus, build_parser
from hsmsync.cli.commands import COMMANDS
from hsmsync.cli.context import Context
from hsmsync.core.plan import Change
from hsmsync.core.results import ChangeResult
from hsmsync.environment import Environment
from tests.signin import with_sign_in


class Recorder:
    """A reporter that remembers which hooks were called."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def discovery_started(self, hsms: int) -> None:
        self.calls.append("discovery_started")

    def discovery_progress(self, total: int, done: int) -> None:
        self.calls.append("discovery_progress")

    def discovery_finished(self) -> None:
        self.calls.append("discovery_finished")

    def apply_started(self, total: int) -> None:
        self.calls.append("apply_started")

    def change_started(self, change: Change) -> None:
        self.calls.append("change_started")

    def change_finished(self, result: ChangeResult) -> None:
        self.calls.append("change_finished")

    def apply_finished(self) -> None:
        self.calls.append("apply_finished")

    def effect_waiting(self, pending: int, checked: int, waited: float, bound: float) -> None:
        self.calls.append("effect_waiting")


def _env(cwd: Path) -> Environment:
    return Environment(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin=io.StringIO(),
        stdin_isatty=False,
        environ=with_sign_in(),  # signed in to the emulator when the test started one
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (("validate",), ExitStatus.OK),
        (("plan", "--state", "empty-state.json", "--detailed-exitcode"), ExitStatus.CHANGES),
        (("plan", "--state", "empty-state.json"), ExitStatus.OK),
        (("drift", "--state", "empty-state.json"), ExitStatus.CHANGES),
        (("roles", "--plane", "data"), ExitStatus.OK),
        (("schema", "plan"), ExitStatus.OK),
        (("lint",), ExitStatus.OK),
        (("resolve", "--check"), ExitStatus.OK),
        (("export", "--state", "live-as-tutorial.json"), ExitStatus.OK),
    ],
)
def test_every_command_returns_an_exit_status(
    contoso: Path, argv: tuple[str, ...], status: ExitStatus
) -> None:
    args = build_parser().parse_args(list(argv))
    returned = COMMANDS[args.command].run(args, Context(_env(contoso)))
    assert type(returned) is ExitStatus
    assert returned is status


@pytest.mark.emulator
def test_the_reporter_is_passed_explicitly_and_not_in_the_namespace(emulated_contoso: Path) -> None:
    recorder = Recorder()
    argv = ["apply", "--live", "--endpoints", "endpoints.json", "--auto-approve"]
    args = build_parser().parse_args(argv)
    status = COMMANDS["apply"].run(args, Context(_env(emulated_contoso), recorder))
    assert status is ExitStatus.OK
    assert not hasattr(args, "progress")
    for hook in ("discovery_started", "discovery_finished", "apply_started", "change_finished"):
        assert hook in recorder.calls
    assert recorder.calls[-1] == "apply_finished"


def test_the_file_backend_is_a_context_manager_serving_one_worker(contoso: Path) -> None:
    backend = open_backend(state=Path("empty-state.json"), endpoints=None, environ={}, cwd=contoso)
    with backend as opened:
        assert opened is backend
        assert opened.workers == 1
        assert opened.other_writers() == []


def test_every_command_has_its_own_module() -> None:
    for name, command in COMMANDS.items():
        assert command.run.__module__ == f"hsmsync.cli.commands.{name}"
