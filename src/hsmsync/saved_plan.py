"""Saved plans (`plan --out`): a reviewed plan, bound to what it was made from.

A saved plan records the manifest's digest, the backend, the targets, the tool version and the
live snapshot. `apply PLAN` never executes the file's changes: it loads the manifest and live
state itself, recomputes the plan and applies it only when it equals the saved one. So a plan
file (e.g. in a pull request) can carry nothing the manifest does not say.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hsmsync import __version__
from hsmsync.backends.base import ReadRequest
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.fingerprint import describe_differences, fingerprint
from hsmsync.core.plan import Change, Plan
from hsmsync.core.plan_io import plan_from_dict
from hsmsync.core.state import LiveState
from hsmsync.render.labels import principal_label
from hsmsync.saved_plan_file import FORMAT, FORMAT_VERSION, SavedBackend, SavedPlanDocument, parse_saved_plan


@dataclass(frozen=True, slots=True)
class PlanBinding:
    """What a plan was made from: the manifest (path as typed, digest) and the backend."""

    manifest_path: str
    manifest_digest: str
    backend: SavedBackend
    tool_version: str = __version__
    targets: tuple[str, ...] = ()  # `--target`s, sorted; () = the whole manifest


@dataclass(frozen=True, slots=True)
class SavedPlan:
    document: SavedPlanDocument
    plan: Plan
    display: Path


def saved_plan_json(plan: Plan, request: ReadRequest, live: LiveState, binding: PlanBinding) -> str:
    data = plan.to_dict()
    data["format"] = FORMAT
    data["format_version"] = FORMAT_VERSION
    data["tool_version"] = binding.tool_version
    data["manifest"] = {"path": binding.manifest_path, "sha256": binding.manifest_digest}
    data["backend"] = binding.backend.model_dump(mode="json")
    data["targets"] = list(binding.targets)
    data["discovery"] = _discovery(request)
    data["live_snapshot"] = live.model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _discovery(request: ReadRequest) -> dict[str, Any]:
    """The read request as JSON, sets sorted, so the same request always writes the same text."""
    out = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(request).items()}
    out["key_scopes"] = {k: list(v) for k, v in sorted(request.key_scopes.items())}
    as_read: dict[str, Any] = json.loads(json.dumps(out))  # tuples -> lists, as read from the file
    return as_read


def load_saved_plan(path: Path, display: Path) -> SavedPlan:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HsmsyncError(f"{display}: cannot read saved plan: {exc}") from None
    document = parse_saved_plan(text, display)
    # `show` renders the snapshot and `apply` compares it: an edited one is refused by both, here.
    if fingerprint(document.live_snapshot) != document.live_fingerprint:
        raise HsmsyncError(
            f"{display}: the live snapshot in this saved plan does not match the fingerprint it was saved "
            "with: the file was edited after `hsmsync plan --out`; make the plan again"
        )
    try:
        plan = plan_from_dict(json.loads(text))
    except HsmsyncError as exc:
        raise HsmsyncError(f"{display}: {exc}") from None
    return SavedPlan(document, plan, display)


def check_binding(saved: SavedPlan, binding: PlanBinding, request: ReadRequest) -> None:
    """Refuse a plan made by another tool version, from another manifest, for another backend or
    other targets; each refusal says what differs."""
    doc, shown = saved.document, saved.display
    problems: list[str] = []
    if doc.tool_version != binding.tool_version:
        problems.append(f"it was made by hsmsync {doc.tool_version}; this is hsmsync {binding.tool_version}")
    if doc.manifest.sha256 != binding.manifest_digest:
        problems.append(
            f"it was made from manifest {doc.manifest.path} ({doc.manifest.sha256}), "
            f"but {binding.manifest_path} is different ({binding.manifest_digest})"
        )
    if tuple(doc.targets) != binding.targets:
        problems.append(
            f"it was made for {_targets_text(doc.targets)}, "
            f"this apply is for {_targets_text(binding.targets)}"
        )
    if doc.backend != binding.backend:
        problems.append(
            f"it was made against {backend_text(doc.backend)}, "
            f"but this apply would go to {backend_text(binding.backend)}"
        )
    problems += _target_differences(doc.discovery.model_dump(mode="json"), _discovery(request))
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise HsmsyncError(
            f"{shown}: refusing to apply this saved plan:\n{listing}\n"
            "Make the plan again from this manifest and backend (`hsmsync plan --out ...`), review it, "
            "then apply it."
        )


def _targets_text(targets: Sequence[str]) -> str:
    return "--target " + " --target ".join(targets) if targets else "every target (no --target)"


def backend_text(b: SavedBackend) -> str:
    if b.kind == "state file":
        return f"the fake state file {b.state_file}"
    return f"live Azure through the endpoints file {b.endpoints}" if b.endpoints else "live Azure"


def _target_differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    for field, noun in (("hsms", "HSM"), ("vaults", "vault")):
        was = {t["name"]: t for t in saved[field]}
        is_ = {t["name"]: t for t in now[field]}
        for name in sorted(was.keys() | is_.keys()):
            if was.get(name) != is_.get(name):
                was_at, is_at = _where(was.get(name)), _where(is_.get(name))
                out.append(f"{noun} {name}: the plan targets {was_at}, the manifest {is_at}")
    for field, noun in (("arm_scopes", "ARM scopes"), ("arm_role_scopes", "custom Azure role scopes")):
        if sorted(saved[field]) != sorted(now[field]):
            out.append(f"{noun}: the plan targets {saved[field]}, the manifest {now[field]}")
    if not out and saved != now:
        out.append("what the plan discovered (principals, keys, pruning) is not what the manifest asks for")
    return out


def _where(target: dict[str, str] | None) -> str:
    return "nothing" if target is None else f"{target['url'] or '(no url)'} {target['resource_id']}".strip()


def check_not_stale(saved: SavedPlan, now: LiveState) -> None:
    """Raise when live state no longer is what the plan was computed against (the snapshot itself
    was checked against the fingerprint when the file was loaded)."""
    doc = saved.document
    if fingerprint(now) == doc.live_fingerprint:
        return
    listing = "\n".join(f"  - {line}" for line in describe_differences(doc.live_snapshot, now))
    raise HsmsyncError(
        "the saved plan is stale: live state changed since it was made, so it was not applied.\n"
        f"{listing}\nRun `hsmsync plan` again and review the new plan."
    )


def change_label(c: Change) -> str:
    """A change as a reviewer reads it, with the ids it really carries."""
    who = principal_label(c)  # a compound identity's entry says its application: not the plain one
    what = f"{c.role or c.name} -> {who}" if who else (c.role or c.name)
    ids = [f"role id {c.role_id}"] if c.role_id else []
    if c.principal_id:
        ids.append(f"principal id {c.principal_id}")
    detail = f" ({', '.join(ids)})" if ids else ""
    return f"{c.action.value} {c.kind.value.replace('_', ' ')} on {c.target}: {what}{detail} at {c.scope}"


def _canonical(changes: Iterable[Change]) -> list[str]:
    return [json.dumps(c.to_dict(order), sort_keys=True) for order, c in enumerate(changes, start=1)]


def check_same_plan(saved: SavedPlan, computed: Plan, manifest: str) -> None:
    """Refuse unless the saved plan is exactly the one computed from the manifest and live state."""
    mine, theirs = _canonical(computed.changes), _canonical(saved.plan.changes)
    problems = [
        f"change #{order} in the plan file: {change_label(c)} is not in the plan computed from {manifest}"
        for (order, c), text in zip(saved.plan.numbered(), theirs, strict=True)
        if text not in mine
    ]
    problems += [
        f"change #{order} of the plan computed from {manifest}: {change_label(c)} is missing from the "
        "plan file"
        for (order, c), text in zip(computed.numbered(), mine, strict=True)
        if text not in theirs
    ]
    if not problems and mine != theirs:
        problems.append(
            f"the plan file orders the changes differently from the plan computed from {manifest}"
        )
    for field in ("refusals", "warnings", "notes", "unmanaged"):
        if not problems and getattr(saved.plan, field) != getattr(computed, field):
            problems.append(f"the plan file's {field} differ from the plan computed from {manifest}")
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise HsmsyncError(
            f"{saved.display}: refusing to apply: the plan file is not the plan {manifest} gives against "
            f"current live state:\n{listing}\nOnly a plan made by `hsmsync plan --out` from this "
            "manifest is applied; make it again and review it."
        )
