"""Apply results as text: what was applied, what failed (with the service's message), what was not tried."""

from __future__ import annotations

from hsmsync.core.results import ApplyResult, ChangeStatus, Effect
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
        if r.effect is Effect.NOT_IN_EFFECT:
            out.append(f"      NOT YET IN EFFECT: {v(r.effect_note or 'not seen when read back')}")
        elif r.effect is Effect.UNREADABLE:
            out.append(f"      not read back: {v(r.effect_note or 'the read was denied')}")
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
            "in_effect": result.in_effect,
            "summary": {status.value: result.count(status) for status in ChangeStatus},
            "verification": _verification_json(result),
            "results": [
                {
                    "status": r.status.value,
                    "error": r.error,
                    "effect": r.effect.value if r.effect is not None else None,
                    "effect_note": r.effect_note,
                    "change": r.change.to_dict(order),
                }
                for order, r in enumerate(result.results, start=1)
            ],
        },
    )


def _verification_json(result: ApplyResult) -> dict[str, object] | None:
    """How the changes were read back (null when none was: nothing to check)."""
    check = result.verification
    if check is None:
        return None
    return {
        "bound_seconds": check.bound,  # null: --no-wait
        "waited_seconds": round(check.waited, 3),
        "reads": check.reads,
        **{effect.value: result.count_effect(effect) for effect in Effect},
    }


def render_effect_summary(result: ApplyResult) -> str:
    """The line on whether the applied changes were seen in effect ("" when none was read back)."""
    check = result.verification
    if check is None:
        return ""
    if check.bound is None:
        n = result.count_effect(Effect.NOT_CHECKED)
        return (
            f"Not read back (--no-wait): {n} changes may not be in effect yet; "
            "`hsmsync plan` shows what is.\n"
        )
    seen, missing = result.count_effect(Effect.IN_EFFECT), result.count_effect(Effect.NOT_IN_EFFECT)
    unreadable = result.count_effect(Effect.UNREADABLE)
    lines = []
    if unreadable:
        lines.append(
            f"Not read back: {unreadable} changes, because the applying identity is denied the read "
            "(did this apply take its own rights away?); their writes succeeded.\n"
        )
    if missing:
        lines.append(
            f"NOT YET IN EFFECT: {missing} of {seen + missing} changes after waiting {check.waited:.0f}s "
            f"(at most {check.bound:g}s). Azure may still be replicating them: run `hsmsync plan` later "
            "(it plans nothing for a change that has taken effect), or apply again with a longer --wait.\n"
        )
    elif seen:
        waited = f"{check.waited:.1f}s"
        lines.append(f"In effect: {seen} changes read back in every region that answered ({waited}).\n")
    return "".join(lines)
