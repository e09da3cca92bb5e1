"""`apply --bootstrap`: adopt a fresh HSM whose discovery the applier is denied (see core/bootstrap.py).

Only the manifest's own grant that gives the applier the denied right is applied first, shown and
confirmed like any change; then the normal apply discovers and plans the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from hsmsync.applier import apply_plan
from hsmsync.backends.base import ReadRequest, StateBackend
from hsmsync.backends.registry import read_request_for
from hsmsync.core.bootstrap import bootstrap_plan, granting_assignment, way_out
from hsmsync.core.capabilities import short_action
from hsmsync.core.desired import DesiredState
from hsmsync.core.errors import BackendError, Denied, HsmsyncError
from hsmsync.core.guard import Caller
from hsmsync.core.planner import plan_changes
from hsmsync.core.results import ApplyResult
from hsmsync.core.review import PlanReview
from hsmsync.core.state import LiveState
from hsmsync.render import PLAN_RENDERERS
from hsmsync.render.results import render_apply_result


class BootstrapNeeded(HsmsyncError):
    """Discovery was denied on a managed HSM; the message names the way out."""

    def __init__(self, message: str, denied: Denied) -> None:
        super().__init__(message)
        self.denied = denied


def read_or_way_out(
    backend: StateBackend, request: ReadRequest, desired: DesiredState, caller: Callable[[], Caller | None]
) -> LiveState:
    """Read live state; a discovery call denied on a managed HSM says what to do about it."""
    try:
        return backend.read_state(request)
    except BackendError as exc:
        if exc.denied is None or exc.denied.target.is_arm or exc.denied.target.name not in desired.hsms:
            raise
        who = caller()
        ids = who.data_ids if who else frozenset()
        hint = way_out(desired, ids, who.object_id if who else None, exc.denied)
        raise BootstrapNeeded(f"{exc}\n{hint}", exc.denied) from None


def run_bootstrap(
    desired: DesiredState,
    backend: StateBackend,
    *,
    caller: Callable[[], Caller | None],
    confirmed: Callable[[], bool],
    out: TextIO,
) -> ApplyResult | None:
    """Apply the grant discovery needs, if discovery is denied; a clear error if the manifest has none.

    The result of applying the grant (None: nothing to bootstrap), for the caller to wait until
    it is in effect before discovering with it."""
    request = read_request_for(desired)
    try:
        read_or_way_out(backend, request, desired, caller)
        return None  # discovery works: nothing to bootstrap
    except BootstrapNeeded as exc:
        needed, denied = exc, exc.denied
    who = caller()
    grant = granting_assignment(desired, who.data_ids, denied) if who else None
    if grant is None:
        raise needed
    # Read that HSM as far as the applier can (its principals' assignments), to plan the grant.
    live = backend.read_state(replace(request, full_discovery=request.full_discovery - {denied.target.name}))
    plan = bootstrap_plan(plan_changes(desired, live), grant)
    if plan.is_empty:
        raise HsmsyncError(
            f"{needed}\nThat grant is already live, yet the call is denied (a second region of the "
            "HSM may still be replicating it: try again in a few minutes)."
        )
    out.write(
        f"Bootstrap: {grant.hsm} denies the applying identity {short_action(denied.action)} at "
        f"{denied.scope}; the manifest grants {grant.principal} {grant.role} at {grant.scope}. "
        "That grant is applied first; then the rest is planned.\n"
    )
    out.write(PLAN_RENDERERS["text"](PlanReview(plan), backend.describe()))
    if not confirmed():
        raise HsmsyncError("bootstrap cancelled; nothing was changed")
    result = apply_plan(plan, backend)
    out.write("\n" + render_apply_result(result) + "\n")
    if not result.ok:
        raise HsmsyncError("the bootstrap grant could not be applied; nothing else was attempted")
    return result
