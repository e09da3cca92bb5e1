"""Apply results as text: what was applied, what failed (with the service's message), what was not tried."""

from __future__ import annotations

from hsmsync.core.results import ApplyResult, ChangeStatus
from hsmsync.render.contract import document
from hsmsync.render.escape import visible as v
from hsmsync.render.labels import principal_label

_MARK = {
    ChangeStatus.APPLIED: "applied",
    ChangeStatus.ALREADY_DONE: "already so",
    ChangeStatus.FAILED: "FAILED",
    ChangeStatus.NOT_ATTEMPTED: "not attempted",
}


def render_apply_result(result: ApplyResult) -> str:
    out = []
    for r in result.results:
        c = r.change
        who = f" -> {v(principal_label(c))}" if c.principal_id else ""
        what = f"{c.action.value} {c.kind.value} {v(c.target.key)} {v(c.scope)}: {v(c.role)}{who}"
        out.append(f"  [{_MARK[r.status]}] {what}")
        if r.error:  # the service's message: untrusted too
            out.append(f"      error: {v(r.error)}")
    applied = result.count(ChangeStatus.APPLIED)
    already = result.count(ChangeStatus.ALREADY_DONE)
    failed = result.count(ChangeStatus.FAILED)
    skipped = result.count(ChangeStatus.NOT_ATTEMPTED)
    counts = f"{applied} applied, {already} already so, {failed} failed, {skipped} not attempted"
    if result.interrupted:
        out.append(
            f"Apply interrupted: {counts}. What was applied stays applied; plan again to see what is left."
        )
    elif result.ok:
        out.append(f"Apply complete: {applied} applied, {already} already so.")
    else:
        out.append(
            f"Apply stopped at the first error: {counts}. Fix the cause and run apply again; "
            "what was applied stays applied."
        )
    return "\n".join(out) + "\n"


def render_apply_json(result: ApplyResult, header: str) -> str:
    """`apply --format json`: every change with its status and the service's error, and the counts."""
    return document(
        "apply",
        {
            "backend": header,
            "ok": result.ok,
            "summary": {status.value: result.count(status) for status in ChangeStatus},
            "results": [
                {"status": r.status.value, "error": r.error, "change": r.change.to_dict(order)}
                for order, r in enumerate(result.results, start=1)
            ],
        },
    )
