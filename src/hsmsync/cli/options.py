"""Options shared by several commands, each declared once here, and the typed records the
workflow takes instead of the argparse namespace."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from hsmsync.backends.auth_methods import AUTH_METHODS
from hsmsync.environment import Environment
from hsmsync.workflow import DEFAULT_MANIFEST, GuardOptions, Source

PLAN_SOURCE_HELP = ("use a fake state file instead of Azure", "use Azure (the default without --state)")
MANIFEST_HELP = "manifest file, or a directory of them (default: hsmsync.yaml)"
# `--allow-lockout` per command that runs the lockout guard (drift changes nothing: it has none)
_ALLOW_LOCKOUT_HELP = {
    "plan": "show, save and exit 0/2 even if the plan would leave nobody (or not the applying identity) "
    "able to manage access (apply must be given it too)",
    "apply": "apply even if nobody (or not the applying identity) could manage access afterwards",
    "drift": "report drift (exit 0/2) even if the plan would leave nobody (or not the applying identity) "
    "able to manage access",
}
REVIEW_SOURCE_HELP = ("also read live state from this fake state file", "also read live state from Azure")


def add_manifest(
    p: argparse.ArgumentParser, help_text: str, *, default: Path | None = DEFAULT_MANIFEST
) -> None:
    """`-f/--file`; `default=None` when the command finds the manifest some other way."""
    p.add_argument("-f", "--file", type=Path, default=default, help=help_text)


def add_source(
    p: argparse.ArgumentParser, state_help: str, live_help: str, *, required: bool = False
) -> None:
    """Where live state comes from: `--state PATH` | `--live [--endpoints FILE]`, `--auth`,
    `--allow-host`."""
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--state", type=Path, help=state_help)
    src.add_argument("--live", action="store_true", help=live_help)
    p.add_argument("--endpoints", type=Path, help="endpoints file of a local emulator (with --live)")
    _add_live_options(p)


def add_guard(p: argparse.ArgumentParser, command: str) -> None:
    """The lockout guard's and the reference check's options (commands that plan); help texts say
    what each does for `command`."""
    if command in _ALLOW_LOCKOUT_HELP:
        p.add_argument("--allow-lockout", action="store_true", help=_ALLOW_LOCKOUT_HELP[command])
    p.add_argument(
        "--strict",
        action="store_true",
        help="what would be a warning about the manifest's references (a per-key scope naming no "
        "existing key, a data action hsmsync's catalog does not know) is an error",
    )
    p.add_argument(
        "--caller",
        metavar="OBJECT_ID",
        help="the identity hsmsync runs as (object id or principals key; default: the signed-in one)",
    )
    p.add_argument("--caller-group", metavar="OBJECT_ID", action="append", default=[], help="its groups")


def add_feedback(p: argparse.ArgumentParser) -> None:
    """`-q` and `-v` (the defaults, for commands without them, are set on the main parser)."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log every API call (-vv: debug)")


def add_planning(p: argparse.ArgumentParser, command: str) -> None:
    """What `plan`, `apply` and `drift` share: manifest, source, guard, target and feedback options."""
    with_plan = "; with PLAN, the manifest the saved plan is checked against (never a path from it)"
    add_manifest(p, MANIFEST_HELP + (with_plan if command == "apply" else ""), default=None)
    add_source(p, *PLAN_SOURCE_HELP)
    add_guard(p, command)
    add_targets(p)
    add_feedback(p)


def add_targets(p: argparse.ArgumentParser) -> None:
    """`--target hsm:NAME|vault:NAME|arm` (see core/shard.py)."""
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="hsm:NAME|vault:NAME|arm",
        help="only this HSM, Key Vault or Azure RBAC (repeatable; default: all of them)",
    )


def add_format(p: argparse.ArgumentParser, choices: Iterable[str], help_text: str | None = None) -> None:
    p.add_argument("--format", choices=list(choices), default="text", help=help_text)


def _aware_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an ISO 8601 time (e.g. 2026-07-01T00:00:00Z)"
        ) from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"'{text}' has no time zone (add Z or an offset such as +02:00)")
    return when


def add_at(p: argparse.ArgumentParser) -> None:
    """`--at TIME`: the command's clock (an audit date) instead of now, for every rule that
    depends on the time: key expiry and grant expiry (`expires:`) alike."""
    p.add_argument(
        "--at",
        metavar="TIME",
        type=_aware_time,
        help="judge every time-based rule (key expiry, grant expiry) as of this ISO 8601 time with "
        "zone (default: now)",
    )


def now_of(args: argparse.Namespace, env: Environment) -> datetime:
    """`--at` where the command offers it, else the environment's clock: the one time a command
    judges key expiry and grant expiry at (pass it to `workflow.load`)."""
    at: datetime | None = getattr(args, "at", None)
    return at if at is not None else env.clock()


def add_full_plan_url(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--full-plan-url",
        metavar="URL",
        default="",
        help="markdown: where the full plan is (e.g. the CI run's artifacts), named in a capped comment",
    )


def manifest_of(args: argparse.Namespace) -> Path:
    """`-f`, else hsmsync.yaml."""
    file: Path | None = args.file
    return file if file is not None else DEFAULT_MANIFEST


def source_of(args: argparse.Namespace) -> Source:
    return Source(
        state=args.state,
        live=args.live,
        endpoints=args.endpoints,
        allow_hosts=tuple(args.allow_host),
        auth=args.auth,
    )


def guard_of(args: argparse.Namespace) -> GuardOptions:
    return GuardOptions(
        caller=args.caller,
        caller_groups=tuple(args.caller_group),
        allow_lockout=getattr(args, "allow_lockout", False),
        strict=args.strict,
    )


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    """The live backend's options: `--auth METHOD` (how to sign in) and `--allow-host HOST` (a
    host outside the known Azure clouds that may receive real tokens).

    `--allow-host` only ever from the command line: a manifest or endpoints file (which a pull
    request can edit) cannot widen where tokens go."""
    parser.add_argument(
        "--auth",
        choices=AUTH_METHODS,
        help="how to sign in to Azure (default: $HSMSYNC_AUTH, else auto: detect GitHub Actions, Azure "
        "Pipelines, workload identity, a client secret; else managed identity, then az login)",
    )
    parser.add_argument(
        "--allow-host",
        metavar="HOST",
        action="append",
        default=[],
        help="also send Azure credentials to this host (e.g. a private endpoint); repeatable",
    )
