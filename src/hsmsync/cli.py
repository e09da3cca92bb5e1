"""The command line: parse arguments, load, call the core, render, pick the exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import TextIO

from hsmsync import __version__
from hsmsync.applier import ApplyResult, ChangeStatus, apply_plan, backend_workers
from hsmsync.backends.base import ReadRequest, StateBackend
from hsmsync.backends.registry import add_allow_host_option, open_backend_for, read_request_for
from hsmsync.bootstrap import read_or_way_out, run_bootstrap
from hsmsync.commands import (
    EXPORT_COMMANDS,
    REVIEW_COMMANDS,
    SHOW_COMMANDS,
    add_export_parsers,
    add_full_plan_url,
    add_review_parsers,
    add_show_parsers,
    ci,
)
from hsmsync.commands.resolve import COMMANDS as RESOLVE_COMMANDS
from hsmsync.commands.resolve import add_parsers as add_resolve_parsers
from hsmsync.commands.review import principal_id_of
from hsmsync.core.access_delta import access_delta, state_after_plan
from hsmsync.core.applier_rights import rights_to_keep
from hsmsync.core.catalog import builtin_data_roles, definition_to_rest, management_roles
from hsmsync.core.desired import DesiredState
from hsmsync.core.drift import DriftReport, FailOn, flag_unmanaged
from hsmsync.core.errors import HsmsyncError, ManifestError
from hsmsync.core.fingerprint import fingerprint
from hsmsync.core.grants import grants_from_live
from hsmsync.core.guard import Caller, check_lockout
from hsmsync.core.lint import lint
from hsmsync.core.missing_keys import missing_key_warnings
from hsmsync.core.model import Manifest
from hsmsync.core.plan import Plan
from hsmsync.core.planner import plan_changes
from hsmsync.core.review import PlanReview
from hsmsync.core.state import LiveState
from hsmsync.environment import Environment, sigterm_as_interrupt
from hsmsync.manifest import LoadedManifest, load_manifest
from hsmsync.render import PLAN_RENDERERS, render_review
from hsmsync.render import drift as drift_render
from hsmsync.render.progress import Progress, error_line, feedback
from hsmsync.render.results import render_apply_json, render_apply_result
from hsmsync.saved_plan import (
    PlanBinding,
    backend_text,
    check_binding,
    check_not_stale,
    check_same_plan,
    load_saved_plan,
    saved_plan_json,
)
from hsmsync.saved_plan_file import SavedBackend
from hsmsync_files.textfiles import write_output_file

DEFAULT_MANIFEST = Path("hsmsync.yaml")


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2  # plan --detailed-exitcode: there are changes; drift: drifted
    UNEXPECTED = 3
    INTERRUPTED = 130
    OUTPUT_CUT = 141  # 128 + SIGPIPE: the reader of the output went away (`| head`), as git and coreutils


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-f",
        "--file",
        type=Path,
        default=None,
        help="manifest (default: hsmsync.yaml; `apply PLAN` too: never a path from the plan file)",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--state", type=Path, help="plan against a fake state file instead of Azure")
    src.add_argument("--live", action="store_true", help="plan against Azure (the default without --state)")
    p.add_argument("--endpoints", type=Path, help="endpoints file of a local emulator (with --live)")
    add_allow_host_option(p)
    p.add_argument(
        "--allow-lockout",
        action="store_true",
        help="apply even if nobody (or not the applying identity) could manage access afterwards",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="what would be a warning about the manifest's references (a per-key scope naming no "
        "existing key) is an error",
    )
    p.add_argument("--caller", metavar="OBJECT_ID", help="the applying identity, for the lockout guard")
    p.add_argument("--caller-group", metavar="OBJECT_ID", action="append", default=[], help="its groups")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log every API call (-vv: debug)")


def _port(text: str) -> int:
    """A TCP port (0: any free one), checked while parsing: a usage error, not a failed bind."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    # No abbreviated options anywhere: `--auto` must not be read as `--auto-approve`.
    parser = argparse.ArgumentParser(
        prog="hsmsync", description="Manage Managed HSM access as code.", allow_abbrev=False
    )
    parser.add_argument("--version", action="version", version=f"hsmsync {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="json: log and progress lines on stderr as JSON objects, one per line (for log shippers)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check the manifest and exit")
    p.add_argument("-f", "--file", type=Path, default=Path("hsmsync.yaml"))
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("plan", help="show what apply would change")
    _add_source_args(p)
    p.add_argument("--format", choices=sorted(PLAN_RENDERERS), default="text")
    p.add_argument("--out", type=Path, help="also save the plan (JSON) for `hsmsync apply PLAN`")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 error")
    add_full_plan_url(p)

    p = sub.add_parser("apply", help="make live state match the manifest")
    _add_source_args(p)
    p.add_argument("plan_file", nargs="?", type=Path, help="a plan saved by `plan --out`")
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--bootstrap",
        action="store_true",
        help="when discovery is denied, first apply the manifest's grant that gives the applier the right",
    )
    p.add_argument(
        "--format", choices=["text", "json"], default="text", help="json: the results as JSON on stdout"
    )

    p = sub.add_parser("drift", help="report whether live state moved away from the manifest")
    _add_source_args(p)
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--report", type=Path, help="also write the JSON report to this file")
    p.add_argument(
        "--fail-on",
        choices=[f.value for f in FailOn],
        default=FailOn.DRIFT.value,
        help="exit 2 on: drift (default), unmanaged assignments, or any of both",
    )

    p = sub.add_parser("roles", help="list the role catalog")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--plane", choices=["data", "management", "all"], default="all")

    p = sub.add_parser("schema", help="print a JSON Schema")
    p.add_argument(
        "kind", nargs="?", choices=["manifest", "state", "plan", "drift", "lint"], default="manifest"
    )

    p = sub.add_parser("emulator", help="serve a state file as a local Managed HSM + ARM emulator")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--port", type=_port, default=0, help="0-65535 (default 0: any free port)")
    p.add_argument("--endpoints-out", type=Path)
    p.add_argument("--faults", help="e.g. latency=20ms,429=0.1,500=0.05,drop=0.02,seed=7,throttle=5")
    add_review_parsers(sub)
    add_resolve_parsers(sub)
    add_export_parsers(sub)
    add_show_parsers(sub)
    for command_parser in sub.choices.values():
        command_parser.allow_abbrev = False
    return parser


@dataclass(frozen=True)
class _Planned:
    loaded: LoadedManifest
    backend: StateBackend
    request: ReadRequest
    live: LiveState
    plan: Plan


def _manifest_file(args: argparse.Namespace) -> Path:
    return args.file if args.file is not None else DEFAULT_MANIFEST


def _compute_plan(
    args: argparse.Namespace, env: Environment, loaded: LoadedManifest | None = None
) -> _Planned:
    if loaded is None:
        shown = _manifest_file(args)
        loaded = load_manifest(_path(shown, env), display=shown)
    _resolve_callers(args, loaded)
    backend = _backend(args, env)
    request = read_request_for(loaded.desired)
    live = _read_or_way_out(args, backend, request, loaded.desired)
    plan = replace(plan_changes(loaded.desired, live), live_fingerprint=fingerprint(live))
    if args.strict and (dangling := missing_key_warnings(loaded.desired, live, plan.changes)):
        listing = "\n".join(f"  - {d}" for d in dangling)
        raise HsmsyncError(f"--strict: the manifest refers to what does not exist:\n{listing}")
    return _Planned(loaded, backend, request, live, plan)


def _read_or_way_out(
    args: argparse.Namespace, backend: StateBackend, request: ReadRequest, desired: DesiredState
) -> LiveState:
    return read_or_way_out(backend, request, desired, lambda: _caller(args, backend))


def _bootstrap(args: argparse.Namespace, env: Environment) -> None:
    shown = _manifest_file(args)
    loaded = load_manifest(_path(shown, env), display=shown)
    _resolve_callers(args, loaded)
    backend = _backend(args, env)
    human = env.stderr if args.format == "json" else env.stdout  # stdout carries only the JSON
    run_bootstrap(
        loaded.desired,
        backend,
        caller=lambda: _caller(args, backend),
        confirmed=lambda: _confirmed(args, env, "Apply this bootstrap grant?", human),
        out=human,
    )


def _confirmed(args: argparse.Namespace, env: Environment, question: str, out: TextIO | None = None) -> bool:
    """`out`: where the question goes (stderr when stdout carries JSON)."""
    if args.auto_approve:
        return True
    if not env.stdin_isatty:
        raise HsmsyncError("refusing to apply without confirmation: not on a terminal (use --auto-approve)")
    out = out or env.stdout
    out.write(f"\n{question} Only 'yes' is accepted: ")
    out.flush()
    return env.stdin.readline().strip() == "yes"


def _resolve_callers(args: argparse.Namespace, loaded: LoadedManifest) -> None:
    """`--caller`/`--caller-group` to object ids: each a GUID or a key of `principals`. Anything
    else is a usage error: read as no caller, it would switch off the guard for the applier's rights."""

    def object_id(option: str, value: str) -> str:
        try:
            return principal_id_of(loaded, value)
        except HsmsyncError as exc:
            raise HsmsyncError(f"{option}: {exc}") from None

    if args.caller_group and args.caller is None:
        raise HsmsyncError("--caller-group names the groups of --caller; give --caller too")
    if args.caller is not None:
        args.caller = object_id("--caller", args.caller)
    args.caller_group = [object_id("--caller-group", group) for group in args.caller_group]
    # A service principal's groups count in Azure RBAC only (the HSM data plane ignores them).
    declared = loaded.desired.principals.get(args.caller) if args.caller is not None else None
    args.caller_is_app = declared is not None and declared.type == "ServicePrincipal"


def _caller(args: argparse.Namespace, backend: StateBackend) -> Caller | None:
    """The applying identity: `--caller` (resolved by `_resolve_callers`), else the backend's."""
    if args.caller is None:
        return backend.caller()
    groups = tuple(args.caller_group)
    if args.caller_is_app:
        return Caller(args.caller, arm_only_group_ids=groups)
    return Caller(args.caller, groups)


def _binding(args: argparse.Namespace, env: Environment, loaded: LoadedManifest) -> PlanBinding:
    """What a saved plan is bound to: this manifest's bytes and this backend (resolved paths)."""
    if args.state is not None:
        backend = SavedBackend(kind="state file", state_file=str(_path(args.state, env).resolve()))
    else:
        endpoints = str(_path(args.endpoints, env).resolve()) if args.endpoints else None
        backend = SavedBackend(kind="live", endpoints=endpoints)
    return PlanBinding(str(loaded.path), loaded.digest, backend)


def _guard(args: argparse.Namespace, planned: _Planned, after: LiveState | None = None) -> None:
    """Refuse what the service would refuse, and what would lock anyone out; `planned.live` is
    always state this process read itself."""
    plan = planned.plan
    caller = _caller(args, planned.backend)
    if plan.refusals:
        listing = "\n".join(f"  - {r}" for r in plan.refusals)
        raise HsmsyncError(f"the service would refuse this plan:\n{listing}\nChange the manifest to match.")
    keep = rights_to_keep(planned.loaded.desired)
    problems = check_lockout(plan, planned.live, caller=caller, keep=keep, after=after)
    if problems and not args.allow_lockout:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise HsmsyncError(
            f"plan refused by the lockout guard:\n{listing}\n"
            "Declare who keeps these rights in the manifest, or pass --allow-lockout if you mean it."
        )


def _backend(args: argparse.Namespace, env: Environment) -> StateBackend:
    backend = open_backend_for(args, environ=env.environ, cwd=env.cwd)
    if hasattr(backend, "progress"):  # the live backend reports discovery progress
        backend.progress = _progress(args)
    return backend


def _progress(args: argparse.Namespace) -> Progress | None:
    progress = getattr(args, "progress", None)
    return progress if isinstance(progress, Progress) else None


def _path(p: Path, env: Environment) -> Path:
    return p if p.is_absolute() else env.cwd / p


def cmd_validate(args: argparse.Namespace, env: Environment) -> int:
    if args.format == "json":
        return ci.validate_json([args.file], env)
    loaded = load_manifest(_path(args.file, env), display=args.file)
    d = loaded.desired
    env.stdout.write(
        f"{args.file}: valid ({len(d.principals)} principals, {len(d.hsms)} HSMs, "
        f"{len(d.assignments)} assignments)\n"
    )
    return ExitStatus.OK


def cmd_plan(args: argparse.Namespace, env: Environment) -> int:
    planned = _compute_plan(args, env)
    plan, header = planned.plan, planned.backend.describe()
    desired = planned.loaded.desired
    after = state_after_plan(planned.live, plan)  # shared by the access delta and lint
    review = PlanReview(
        plan,
        access=access_delta(
            grants_from_live(planned.live, desired.principals), grants_from_live(after, desired.principals)
        ),
        lint=lint(planned.loaded.manifest, desired, planned.live, after=after),
    )
    env.stdout.write(render_review(args.format, review, header, full_plan_url=args.full_plan_url))
    _guard(args, planned, after)
    if args.out:
        binding = _binding(args, env, planned.loaded)
        text = saved_plan_json(plan, planned.request, planned.live, binding)
        write_output_file(_path(args.out, env), text, "the plan", display=args.out)
    if args.detailed_exitcode and not plan.is_empty:
        return ExitStatus.CHANGES
    return ExitStatus.OK


def cmd_apply(args: argparse.Namespace, env: Environment) -> int:
    if args.bootstrap and args.plan_file:
        raise HsmsyncError("--bootstrap works from the manifest; it cannot be used with a saved plan")
    if args.bootstrap:
        _bootstrap(args, env)
    # With --format json, stdout holds only the JSON document: the plan and the prompt go to stderr.
    human = env.stderr if args.format == "json" else env.stdout
    planned = _verified_saved_plan(args, env, human) if args.plan_file else _compute_plan(args, env)
    backend, plan = planned.backend, planned.plan
    human.write(PLAN_RENDERERS["text"](PlanReview(plan), backend.describe()))
    if plan.is_empty:
        if args.format == "json":
            env.stdout.write(render_apply_json(ApplyResult(()), backend.describe()))
        return ExitStatus.OK
    _guard(args, planned)
    if not _confirmed(args, env, "Apply these changes?", human):
        human.write("Apply cancelled; nothing was changed.\n")
        return ExitStatus.ERROR
    progress = _progress(args)
    if progress is not None:
        progress.apply_started(len(plan.changes))
    result = apply_plan(plan, backend, reporter=progress, workers=backend_workers(backend))
    if progress is not None:
        progress.apply_finished()
    if args.format == "json":
        env.stdout.write(render_apply_json(result, backend.describe()))
    else:
        env.stdout.write("\n" + render_apply_result(result))
    other_writers = getattr(backend, "other_writers", None)  # the live backend notices concurrent writers
    for note in other_writers() if callable(other_writers) else ():
        env.stderr.write(f"warning: {note}\n")
    if result.unexpected is not None:
        env.stderr.write("unexpected error during apply: the report above says which change it failed\n")
        _traceback_hint(env, args.debug, result.unexpected)
        return ExitStatus.UNEXPECTED
    if result.interrupted:
        env.stderr.write("interrupted\n")
        return ExitStatus.INTERRUPTED
    return ExitStatus.OK if result.ok else ExitStatus.ERROR


def _verified_saved_plan(args: argparse.Namespace, env: Environment, out: TextIO) -> _Planned:
    """The plan recomputed from the manifest and live state, when the saved plan equals it. The
    manifest is `-f` (default hsmsync.yaml), never a path the plan file names: the file is input a
    pull request can edit, and the pipeline decides what it applies."""
    saved = load_saved_plan(_path(args.plan_file, env), args.plan_file)
    shown = _manifest_file(args)
    loaded = load_manifest(_path(shown, env), display=shown)
    request = read_request_for(loaded.desired)
    binding = _binding(args, env, loaded)
    check_binding(saved, binding, request)  # before any backend is opened
    planned = _compute_plan(args, env, loaded)
    check_not_stale(saved, planned.live)
    check_same_plan(saved, planned.plan, str(shown))
    out.write(
        f"{args.plan_file}: verified against manifest {shown} ({loaded.digest[:19]}) and "
        f"{backend_text(binding.backend)}\n"
    )
    return planned


def cmd_drift(args: argparse.Namespace, env: Environment) -> int:
    planned = _compute_plan(args, env)
    after = state_after_plan(planned.live, planned.plan)  # lint sees what apply would leave
    findings = lint(planned.loaded.manifest, planned.loaded.desired, planned.live, after=after).findings
    report = DriftReport(planned.plan, FailOn(args.fail_on), flag_unmanaged(planned.plan, findings))
    header = planned.backend.describe()
    renderers = {"text": drift_render.render_text, "json": drift_render.render_json}
    renderers["markdown"] = drift_render.render_markdown
    env.stdout.write(renderers[args.format](report, header))
    if args.report:
        report_json = drift_render.render_json(report, header)
        write_output_file(_path(args.report, env), report_json, "the drift report", display=args.report)
    return ExitStatus.CHANGES if report.failed else ExitStatus.OK


def cmd_roles(args: argparse.Namespace, env: Environment) -> int:
    groups = []
    if args.plane in ("data", "all"):
        groups.append(
            (
                "data",
                builtin_data_roles(),
                "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/",
            )
        )
    if args.plane in ("management", "all"):
        groups.append(
            ("management", management_roles(), "/providers/Microsoft.Authorization/roleDefinitions/")
        )
    if args.format == "json":
        items = [definition_to_rest(r, id_prefix=prefix) for _, roles, prefix in groups for r in roles]
        env.stdout.write(json.dumps(items, indent=2) + "\n")
        return ExitStatus.OK
    for plane, roles, _ in groups:
        env.stdout.write(f"{plane} plane:\n")
        for r in sorted(roles, key=lambda r: r.role_name):
            env.stdout.write(f"  {r.name}  {r.role_name}\n")
            for i, block in enumerate(r.permissions):
                if len(r.permissions) > 1:  # blocks are evaluated apart; show where each list belongs
                    env.stdout.write(f"    block {i + 1}:\n")
                env.stdout.write("".join(f"      {a}\n" for a in block.data_actions))
                env.stdout.write("".join(f"      not {a}\n" for a in block.not_data_actions))
    return ExitStatus.OK


def cmd_schema(args: argparse.Namespace, env: Environment) -> int:
    from hsmsync.output_schemas import output_schema
    from hsmsync.schemas import manifest_schema, state_schema

    inputs = {"manifest": manifest_schema, "state": state_schema}
    schema = inputs[args.kind]() if args.kind in inputs else output_schema(args.kind)
    env.stdout.write(json.dumps(schema, indent=2) + "\n")
    return ExitStatus.OK


def cmd_emulator(args: argparse.Namespace, env: Environment) -> int:
    from hsmsync_emulator import run_emulator_cli

    return run_emulator_cli(_path(args.state, env), args.port, args.endpoints_out, args.faults, env.stdout)


COMMANDS = {
    **REVIEW_COMMANDS,
    **RESOLVE_COMMANDS,
    **EXPORT_COMMANDS,
    **SHOW_COMMANDS,
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "drift": cmd_drift,
    "roles": cmd_roles,
    "schema": cmd_schema,
    "emulator": cmd_emulator,
}


def main(argv: Sequence[str] | None = None, *, env: Environment | None = None) -> int:
    """Run one command; the exit status. Output that could not be written decides it too:
    a reader that went away (`| head`) turns success into OUTPUT_CUT, quietly; any other
    write error is an error."""
    own_process = env is None
    try:
        env = env or Environment.of_process()
    except OSError as exc:  # e.g. the current directory was removed
        sys.stderr.write(f"error: {exc.strerror or exc}\n")
        return ExitStatus.ERROR
    with sigterm_as_interrupt() if own_process else contextlib.nullcontext():
        code = _run(argv, env)
    gone, failure = env.output_lost()
    if failure is not None:
        env.stderr.write(f"error: cannot write output: {failure}\n")
        return code if code not in (ExitStatus.OK, ExitStatus.CHANGES) else ExitStatus.ERROR
    if gone and code == ExitStatus.OK:
        return ExitStatus.OUTPUT_CUT
    return code


def _run(argv: Sequence[str] | None, env: Environment) -> int:
    parser = build_parser()
    try:
        # argparse prints help and usage errors itself: through env's streams, which a closed
        # pipe cannot break.
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors, which are errors: 1, never 2
        return ExitStatus.OK if exc.code in (0, None) else ExitStatus.ERROR
    try:
        quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", 0)
        log_format = getattr(args, "log_format", "text")
        with feedback(
            env.stderr, env.environ, quiet=quiet, verbose=verbose, log_format=log_format
        ) as args.progress:
            return int(COMMANDS[args.command](args, env))
    except HsmsyncError as exc:
        env.stderr.write(error_line(f"error: {exc}", getattr(args, "log_format", "text")))
        if isinstance(exc, ManifestError):  # in GitHub Actions, also an annotation per error line
            env.stderr.write(ci.manifest_annotations(exc, env))
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        env.stderr.write("interrupted\n")
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors are turned into an exit code
        env.stderr.write(f"unexpected error: {type(exc).__name__}: {exc}\n")
        _traceback_hint(env, args.debug, traceback.format_exc())
        return ExitStatus.UNEXPECTED


def _traceback_hint(env: Environment, debug: bool, trace: str) -> None:
    if debug:
        env.stderr.write(trace)
    else:
        env.stderr.write("run with --debug for the traceback, and please report it\n")


__all__ = ["ApplyResult", "ChangeStatus", "ExitStatus", "Manifest", "main"]
