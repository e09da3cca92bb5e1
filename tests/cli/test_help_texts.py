"""Help texts say what an option does for the command it is on (not copied from another)."""

from __future__ import annotations

import argparse

from hsmsync.cli import build_parser


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_no_option_help_starts_with_another_commands_verb():
    commands = _commands()
    wrong = []
    for name, parser in commands.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):  # "show this help message": argparse's own
                continue
            first = (action.help or "").split(" ", 1)[0].strip("`").lower()
            if first in commands and first != name:
                wrong.append(f"{name} {'/'.join(action.option_strings)}: {action.help}")
    assert wrong == []


def test_drift_allow_lockout_speaks_of_drift():
    # A plan the lockout guard refuses is an error on drift as on plan (exit 1), so drift has the
    # same way out; its help says what it does there (reports, changes nothing).
    helps = {o: a.help or "" for a in _commands()["drift"]._actions for o in a.option_strings}
    assert helps["--allow-lockout"].startswith("report drift")


def test_state_and_live_help_fit_every_command_that_has_them():
    for name in ("plan", "apply", "drift"):
        helps = {a.dest: a.help or "" for a in _commands()[name]._actions}
        assert not helps["state"].startswith("plan"), name
        assert not helps["live"].startswith("plan"), name
    apply_file = {a.dest: a.help for a in _commands()["apply"]._actions}["file"]
    plan_file = {a.dest: a.help for a in _commands()["plan"]._actions}["file"]
    assert "PLAN" in (apply_file or "")
    assert "PLAN" not in (plan_file or "")


def test_every_command_that_takes_a_manifest_directory_says_so():
    takes_directory = ("validate", "plan", "apply", "drift", "lint", "whocan", "explain")
    for name in takes_directory:
        file_help = {a.dest: a.help for a in _commands()[name]._actions}["file"] or ""
        assert "or a directory of them" in file_help, name
    resolve_help = {a.dest: a.help for a in _commands()["resolve"]._actions}["file"] or ""
    assert "directory" not in resolve_help  # resolve edits one file
