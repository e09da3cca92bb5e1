"""Apply results as text, JSON and markdown: what was applied, what failed (with the service's
message), what was not tried, and whether each change was seen in effect."""

from __future__ import annotations

from collections.abc import Callable

from hsmsync.core.plan import Change
from hsmsync.core.results import ApplyResult, ChangeStatus, Effect
from hsmsync.render.contract import document
from hsmsync.render.escape import md
from hsmsync.render.escape import visible as v
from hsmsync.render.labels import principal_label

_MARK = {
    ChangeStatus.APPLIED: "applied",
    ChangeStatus.ALREADY_DONE: "already so",
    ChangeStatus.FAILED: "FAILED",
    ChangeStatus.NOT_ATTEMPTED: "not attempted",
}


def _what(c: Change, shown: Callable[[str], str]) -> str:
    """One change in a line, every untrusted part through `shown` (the format's escaping)."""
    who = f" -> {shown(principal_label(c))}" if c.principal_id else ""
    return f"{c.action.value} {c.kind.value} {shown(c.target.key)} {shown(c.scope)}: {shown(c.role)}{who}"


def _outcome(result: ApplyResult) -> str:
    """The closing line on the writes: complete, stopped at an error, or interrupted."""
    applied = result.count(ChangeStatus.APPLIED)
    already = result.count(ChangeStatus.ALREADY_DONE)
    failed = result.count(ChangeStatus.FAILED)
    skipped = result.count(ChangeStatus.NOT_ATTEMPTED)
    counts = f"{applied} applied, {already} already so, {failed} failed, {skipped} not attempted"
    if result.interrupted:
        return f"Apply interrupted: {counts}. What was applied stays applied; plan again to see what is left."
    if result.ok:
        return f"Apply complete: {applied} applied, {already} already so."
    return (
        f"Apply stopped at the first error: {counts}. Fix the cause and run apply again; "
        "what was applied stays applied."
    )


def render_apply_result(result: ApplyResult) -> str:
    out = []
    for r in result.results:
        out.append(f"  [{_MARK[r.status]}] {_what(r.change, v)}")
        if r.error:  # the service's message: untrusted too
            out.append(f"      error: {v(r.error)}")
        if r.effect is Effect.NOT_IN_EFFECT:
            out.append(f"      NOT YET IN EFFECT: {v(r.effect_note or 'not seen when read back')}")
        elif r.effect is Effect.UNREADABLE:
            out.append(f"      not read back: {v(r.effect_note or 'the read was denied')}")
    out.append(_outcome(result))
    return "\n".join(out) + "\n"


_EFFECT_CELL = {
    None: "",
    Effect.IN_EFFECT: "in effect",
    Effect.NOT_IN_EFFECT: "**NOT YET IN EFFECT**",
    Effect.NOT_CHECKED: "not checked (--no-wait)",
    Effect.UNREADABLE: "not read back (denied)",
}


def render_apply_markdown(result: ApplyResult, header: str) -> str:
    """`apply --format markdown` (a CI job summary): every change with its status and whether it
    was seen in effect, then the same closing lines as the text report."""
    if result.interrupted or not result.ok:
        title = "❌ hsmsync apply: " + ("interrupted" if result.interrupted else "stopped at an error")
    elif not result.in_effect:
        title = "⏳ hsmsync apply: written, not yet in effect"
    else:
        title = "✅ hsmsync apply: done"
    out = [f"### {title}", "", f"Against: {md(header)}", ""]
    if result.results:
        out += ["| # | change | status | effect |", "| --- | --- | --- | --- |"]
    for order, r in enumerate(result.results, start=1):
        status = _MARK[r.status] + (f": {md(r.error)}" if r.error else "")
        effect = _EFFECT_CELL[r.effect] + (f": {md(r.effect_note)}" if r.effect_note else "")
        out.append(f"| {order} | {_what(r.change, md)} | {status} | {effect} |")
    out += ["", md(_outcome(result)) if result.results else "No changes.", ""]
    summary = render_effect_summary(result)
    return "\n".join(out) + (md(summary.rstrip("\n")) + "\n" if summary else "")


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
