"""Saved plans (`plan --out`): the plan, what was discovered to make it, and the live snapshot.

`apply PLAN` re-reads live state with the same discovery request and refuses a stale plan,
saying what changed since.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from hsmsync.backends.base import HsmRef, ReadRequest, StateBackend, VaultRef
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.fingerprint import describe_differences, fingerprint
from hsmsync.core.plan import Plan
from hsmsync.core.plan_io import plan_from_dict
from hsmsync.core.state import LiveState


def saved_plan_json(plan: Plan, request: ReadRequest, live: LiveState, backend: str) -> str:
    data = plan.to_dict()
    data["backend"] = backend
    data["discovery"] = asdict(request)
    data["live_snapshot"] = live.model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, default=sorted) + "\n"


def _request_from_dict(d: dict[str, Any]) -> ReadRequest:
    kwargs: dict[str, Any] = {}
    for f in fields(ReadRequest):
        if f.name not in d:
            continue
        value = d[f.name]
        if f.name == "hsms":
            value = tuple(HsmRef(**h) for h in value)
        elif f.name == "vaults":
            value = tuple(VaultRef(**v) for v in value)
        elif isinstance(value, dict):
            value = {k: tuple(v) for k, v in value.items()}
        elif isinstance(value, list):
            value = frozenset(value) if "frozenset" in str(f.type) else tuple(value)
        kwargs[f.name] = value
    return ReadRequest(**kwargs)


def load_saved_plan(path: Path, display: Path) -> tuple[Plan, ReadRequest, LiveState]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        request = _request_from_dict(data["discovery"])
        snapshot = LiveState.model_validate(data["live_snapshot"])
    except (OSError, json.JSONDecodeError) as exc:
        raise HsmsyncError(f"{display}: cannot read saved plan: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise HsmsyncError(f"{display}: not a plan saved by `hsmsync plan --out` ({exc})") from None
    return plan_from_dict(data), request, snapshot


def check_not_stale(plan: Plan, request: ReadRequest, snapshot: LiveState, backend: StateBackend) -> None:
    """Raise when live state no longer is what the plan was computed against."""
    now = backend.read_state(request)
    if fingerprint(now) == plan.live_fingerprint:
        return
    changed = describe_differences(snapshot, now)
    listing = "\n".join(f"  - {line}" for line in changed)
    raise HsmsyncError(
        "the saved plan is stale: live state changed since it was made, so it was not applied.\n"
        f"{listing}\nRun `hsmsync plan` again and review the new plan."
    )
