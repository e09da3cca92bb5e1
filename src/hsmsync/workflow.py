"""The one flow every command that reads live state follows:

    load the manifest → open a backend → read live state → plan (pure) → review (access delta,
    lint, the guard's inputs)

Commands call these steps and render what they return; nothing here parses arguments or writes
to a stream. Options arrive as small typed records (`Source`, `GuardOptions`), and the progress
reporter is passed in explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from hsmsync.backends.base import DiscoveryReporter, KeyDetail, ReadRequest, StateBackend
from hsmsync.backends.registry import open_backend, read_request_for
from hsmsync.bootstrap import read_or_way_out
from hsmsync.core.access_delta import access_delta, state_after_plan
from hsmsync.core.applier_rights import rights_to_keep
from hsmsync.core.desired import DesiredState
from hsmsync.core.effective import live_grants_with_members
from hsmsync.core.errors import HsmsyncError, ManifestError
from hsmsync.core.expiry import as_of, live_as_of
from hsmsync.core.fingerprint import fingerprint
from hsmsync.core.guard import Caller, check_lockout
from hsmsync.core.lint import LintReport, lint
from hsmsync.core.listed_roles import resolve_listed_roles
from hsmsync.core.matrix import plan_matrix
from hsmsync.core.missing_keys import missing_key_warnings
from hsmsync.core.plan import Plan
from hsmsync.core.planner import plan_changes
from hsmsync.core.review import PlanReview
from hsmsync.core.state import LiveState
from hsmsync.environment import Environment
from hsmsync.gc_aside import set_aside_from_gc
from hsmsync.manifest import LoadedManifest, load_manifest
from hsmsync.manifest_yaml import render_problems
from hsmsync.references import principal_id_of
from hsmsync.saved_plan import (
    PlanBinding,
    SavedPlan,
    backend_text,
    check_binding,
    check_not_stale,
    check_same_plan,
    load_saved_plan,
)
from hsmsync.saved_plan_file import SavedBackend

DEFAULT_MANIFEST = Path("hsmsync.yaml")


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where live state comes from, as the user typed it (relative paths from the working dir)."""

    state: Path | None = None
    live: bool = False
    endpoints: Path | None = None
    allow_hosts: tuple[str, ...] = ()
    auth: str | None = None  # --auth: how to sign in (None: $HSMSYNC_AUTH, else auto)

    @property
    def given(self) -> bool:
        """`--state` or `--live`: commands that can answer from the manifest alone read live state
        only then."""
        return self.state is not None or self.live


@dataclass(frozen=True, kw_only=True)  # by name: several flags of one type must not swap
class GuardOptions:
    """Who applies, and what the user accepts: the lockout guard's and `--strict`'s inputs."""

    caller: str | None = None
    caller_groups: tuple[str, ...] = ()
    allow_lockout: bool = False
    strict: bool = False
    caller_is_app: bool = False  # the manifest declares --caller a service principal


@dataclass(frozen=True)
class Planned:
    loaded: LoadedManifest
    backend: StateBackend
    request: ReadRequest
    live: LiveState
    plan: Plan
    options: GuardOptions  # with the callers resolved to object ids


def absolute(path: Path, env: Environment) -> Path:
    return path if path.is_absolute() else env.cwd / path


def load(
    shown: Path, env: Environment, targets: Sequence[str] = (), now: datetime | None = None
) -> LoadedManifest:
    """The manifest at `shown` (a file or a directory of them, as the user typed it; errors name
    it so), narrowed to `targets` (`--target`; none: all), as of `now` (`--at`; default the
    environment's clock): grants whose `expires` has passed are no longer desired."""
    loaded = load_manifest(absolute(shown, env), display=shown, targets=targets)
    now = now if now is not None else env.clock()
    return replace(loaded, desired=as_of(loaded.desired, now), now=now)


def header_of(planned: Planned) -> str:
    """What the output is about: the backend, and the `--target`s when the run is narrowed."""
    targets = planned.loaded.targets
    return planned.backend.describe() + (f" (only {', '.join(targets)})" if targets else "")


@contextmanager
def opened_backend(
    source: Source, env: Environment, progress: DiscoveryReporter | None = None
) -> Iterator[StateBackend]:
    """The backend `source` names, closed (its SDK clients and transports) when the block ends."""
    backend = open_backend(
        state=source.state,
        endpoints=source.endpoints,
        environ=env.environ,
        cwd=env.cwd,
        allow_hosts=source.allow_hosts,
        auth=source.auth,
        progress=progress,
    )
    with backend:
        yield backend


def resolve_callers(options: GuardOptions, loaded: LoadedManifest) -> GuardOptions:
    """`--caller`/`--caller-group` as object ids: each a GUID or a key of `principals`. Anything
    else is a usage error: read as no caller, it would switch off the guard for the applier's rights."""

    def object_id(option: str, value: str) -> str:
        try:
            return principal_id_of(loaded, value)
        except HsmsyncError as exc:
            raise HsmsyncError(f"{option}: {exc}") from None

    if options.caller_groups and options.caller is None:
        raise HsmsyncError("--caller-group names the groups of --caller; give --caller too")
    caller = object_id("--caller", options.caller) if options.caller is not None else None
    groups = tuple(object_id("--caller-group", group) for group in options.caller_groups)
    declared = loaded.desired.principals.get(caller) if caller is not None else None
    is_app = declared is not None and declared.type == "ServicePrincipal"
    return replace(options, caller=caller, caller_groups=groups, caller_is_app=is_app)


def caller_of(options: GuardOptions, backend: StateBackend) -> Caller | None:
    """The applying identity: `--caller` (resolved by `resolve_callers`), else the backend's."""
    if options.caller is None:
        return backend.caller()
    if options.caller_is_app:  # a service principal's groups count in Azure RBAC only, not on the HSM
        return Caller(options.caller, arm_only_group_ids=options.caller_groups)
    return Caller(options.caller, options.caller_groups)


def with_listed_roles(loaded: LoadedManifest, live: LiveState) -> LoadedManifest:
    """The manifest with its roles that only the HSM lists resolved against live state (errors
    name the file and line of the entry)."""
    try:
        desired = resolve_listed_roles(loaded.desired, live)
    except ManifestError as exc:
        raise ManifestError(
            exc.problems, render_problems(loaded.path, exc.problems, loaded.positions)
        ) from None
    return replace(loaded, desired=desired)


def plan_request(desired: DesiredState) -> ReadRequest:
    """What a plan reads: what the manifest covers, and group members too (Graph on the live
    path, read as whocan --live reads them), so the review's access delta and matrix name who
    gains through a group. Where they cannot be read the plan warns, never fails."""
    return replace(read_request_for(desired), directory=True, directory_if_readable=True)


def plan_against(loaded: LoadedManifest, backend: StateBackend, options: GuardOptions) -> Planned:
    """Read what the manifest covers and plan it (with the live state's fingerprint)."""
    options = resolve_callers(options, loaded)
    if options.strict and loaded.desired.warnings:
        listing = "\n".join(f"  - {w}" for w in loaded.desired.warnings)
        raise HsmsyncError(f"--strict: the manifest uses what hsmsync does not know:\n{listing}")
    request = plan_request(loaded.desired)
    live = read_or_way_out(backend, request, loaded.desired, lambda: caller_of(options, backend))
    live = at_clock(loaded, live)  # PIM schedules judged at the clock, before the fingerprint
    loaded = with_listed_roles(loaded, live)
    with set_aside_from_gc():  # the states outlive planning: its collections need not walk them
        plan = plan_changes(loaded.desired, live)
    plan = replace(plan, live_fingerprint=fingerprint(live), warnings=(*plan.warnings, *backend.unread()))
    if options.strict and (dangling := missing_key_warnings(loaded.desired, live, plan.changes)):
        listing = "\n".join(f"  - {d}" for d in dangling)
        raise HsmsyncError(f"--strict: the manifest refers to what does not exist:\n{listing}")
    return Planned(loaded, backend, request, live, plan, options)


@dataclass(frozen=True)
class Reviewed:
    """A plan with what a reviewer reads beside it; `after`: live state as apply would leave it."""

    review: PlanReview
    after: LiveState


def review(planned: Planned) -> Reviewed:
    """The access delta and the lint findings of the state the plan would leave."""
    desired = planned.loaded.desired
    after = state_after_plan(planned.live, planned.plan)  # shared by the access delta and lint
    # Group members are named too, through the group (when the state has a directory).
    delta = access_delta(
        live_grants_with_members(planned.live, desired.principals),
        live_grants_with_members(after, desired.principals),
    )
    findings = lint_after(planned, after)
    matrix = plan_matrix(planned.live, planned.plan, desired.principals, after)
    return Reviewed(PlanReview(planned.plan, access=delta, lint=findings, matrix=matrix), after)


def lint_after(planned: Planned, after: LiveState) -> LintReport:
    # No `now`: a plan changes no key, so its review judges no key expiry (nor HSM021; `lint` does).
    return lint(planned.loaded.manifest, planned.loaded.desired, planned.live, after=after)


def refuse_refused(plan: Plan) -> None:
    """What the service would refuse stops an apply, even one with nothing else to do."""
    if plan.refusals:
        listing = "\n".join(f"  - {r}" for r in plan.refusals)
        raise HsmsyncError(f"the service would refuse this plan:\n{listing}\nChange the manifest to match.")


def guard(planned: Planned, after: LiveState | None = None) -> None:
    """Refuse what the service would refuse, and what would lock anyone out; `planned.live` is
    always state this process read itself."""
    plan = planned.plan
    refuse_refused(plan)
    keep = rights_to_keep(planned.loaded.desired)
    caller = caller_of(planned.options, planned.backend)
    problems = check_lockout(plan, planned.live, caller=caller, keep=keep, after=after)
    if problems and not planned.options.allow_lockout:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise HsmsyncError(
            f"plan refused by the lockout guard:\n{listing}\n"
            "Declare who keeps these rights in the manifest, or pass --allow-lockout if you mean it."
        )


def binding(source: Source, env: Environment, loaded: LoadedManifest) -> PlanBinding:
    """What a saved plan is bound to: this manifest's bytes and this backend (resolved paths)."""
    if source.state is not None:
        backend = SavedBackend(kind="state file", state_file=str(absolute(source.state, env).resolve()))
    else:
        endpoints = str(absolute(source.endpoints, env).resolve()) if source.endpoints else None
        backend = SavedBackend(kind="live", endpoints=endpoints)
    return PlanBinding(str(loaded.path), loaded.digest, backend, targets=loaded.targets)


@dataclass(frozen=True)
class SavedPlanCheck:
    """A saved plan and the manifest given for it, checked against this backend's binding before
    any backend opens."""

    saved: SavedPlan
    loaded: LoadedManifest
    shown: Path
    binding: PlanBinding

    def verified(self, plan_file: Path) -> str:
        """The line that says what the saved plan was verified against."""
        return (
            f"{plan_file}: verified against manifest {self.shown} ({self.loaded.digest[:19]}) and "
            f"{backend_text(self.binding.backend)}\n"
        )


def check_saved_plan(
    plan_file: Path, manifest: Path, source: Source, env: Environment, targets: Sequence[str] = ()
) -> SavedPlanCheck:
    """The saved plan, bound to `manifest` (`-f`, never a path the plan file names: the file is
    input a pull request can edit, and the pipeline decides what it applies), this backend and
    these `--target`s."""
    saved = load_saved_plan(absolute(plan_file, env), plan_file)
    loaded = load(manifest, env, targets)
    bound = binding(source, env, loaded)
    check_binding(saved, bound, plan_request(loaded.desired))
    return SavedPlanCheck(saved, loaded, manifest, bound)


def replan_saved(checked: SavedPlanCheck, backend: StateBackend, options: GuardOptions) -> Planned:
    """The plan recomputed from the manifest and live state, when the saved plan equals it."""
    planned = plan_against(checked.loaded, backend, options)
    check_not_stale(checked.saved, planned.live)
    check_same_plan(checked.saved, planned.plan, str(checked.shown))
    return planned


def read_live(
    source: Source,
    env: Environment,
    loaded: LoadedManifest,
    *,
    fully: Iterable[str] = (),
    key_details: KeyDetail = KeyDetail.NONE,
    directory: bool = False,
) -> LiveState | None:
    """Live state when `source` asks for it (else None); `fully` names HSMs whose every
    assignment and key to read; `key_details`: what to learn of every key beyond its name (its
    attributes for lint's key rules; its type too for the key review); `directory`: also the
    groups' members and PIM for Groups memberships (whocan, explain, matrix, keys)."""
    if not source.given:
        return None
    request = read_request_for(loaded.desired)
    request = replace(
        request,
        full_discovery=request.full_discovery | set(fully),
        key_details=key_details,
        directory=directory,
    )
    with opened_backend(source, env) as backend:
        return at_clock(loaded, backend.read_state(request))


def at_clock(loaded: LoadedManifest, live: LiveState) -> LiveState:
    """Live state as of the command's one clock (`--at`, else now; see `load`): PIM schedules
    that ended or have not started count for nothing."""
    return live_as_of(live, loaded.now) if loaded.now is not None else live
