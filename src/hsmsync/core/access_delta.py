"""Who gains or loses a sensitive capability between two sets of grants (before/after a change)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hsmsync.core.capabilities import Capability
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.grants import Grant, grants_from_live
from hsmsync.core.plan import Plan, Plane
from hsmsync.core.scopes import data_scope_covers
from hsmsync.core.state import HsmState, LiveState
from hsmsync.core.state_edits import apply_to_state


@dataclass(frozen=True, slots=True)
class CapabilityChange:
    hsm: str
    scope: str  # '/', '/keys' or '/keys/<key>': where the capability is gained or lost
    capability: Capability
    gained: tuple[str, ...]  # principals, by manifest key or object id
    lost: tuple[str, ...]

    def sentences(self) -> list[str]:
        out = []
        for names, word in ((self.gained, "more"), (self.lost, "fewer")):
            if names:
                noun = "principal" if len(names) == 1 else "principals"
                out.append(
                    f"after this change, {len(names)} {word} {noun} can {self.capability.value} "
                    f"at {self.scope} on {self.hsm}: {', '.join(names)}"
                )
        return out


@dataclass(frozen=True, slots=True)
class AccessDelta:
    changes: tuple[CapabilityChange, ...]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def sentences(self) -> list[str]:
        return [s for c in self.changes for s in c.sentences()]


def _parents(scope: str) -> list[str]:
    if scope == "/":
        return []
    return ["/"] if scope.lower() == "/keys" else ["/keys", "/"]


def _scope_order(scope: str) -> tuple[int, str]:
    return (0 if scope == "/" else 1 if scope.lower() == "/keys" else 2, scope.lower())


def _holders(grants: Sequence[Grant], hsm: str, scope: str, capability: Capability) -> set[str]:
    return {
        g.principal_id
        for g in grants
        if g.target == hsm and data_scope_covers(g.scope, scope) and capability.granted_by(g.short_actions)
    }


def access_delta(before: Sequence[Grant], after: Sequence[Grant]) -> AccessDelta:
    """Per (HSM, scope, capability), who gains or loses it; data plane only (ARM roles reach no key).

    A principal that gains a capability at `/` also gains it at every key: it is reported once,
    at the broadest scope where its access changed.
    """
    old = [g for g in before if g.plane is Plane.DATA]
    new = [g for g in after if g.plane is Plane.DATA]
    labels = {g.principal_id: g.principal_id for g in (*old, *new)}
    for g in (*old, *new):
        if g.principal:  # a manifest name beats an object id, whichever side it comes from
            labels[g.principal_id] = g.principal
    scopes: dict[str, set[str]] = {}
    for g in (*old, *new):
        scopes.setdefault(g.target, set()).add(g.scope)
    changes: list[CapabilityChange] = []
    for hsm in sorted(scopes):
        for capability in Capability:
            gained_at: dict[str, set[str]] = {}
            lost_at: dict[str, set[str]] = {}
            for scope in sorted(scopes[hsm], key=_scope_order):
                was = _holders(old, hsm, scope, capability)
                now = _holders(new, hsm, scope, capability)
                gained_at[scope], lost_at[scope] = now - was, was - now
                shown_gain = _not_reported_above(gained_at, scope)
                shown_loss = _not_reported_above(lost_at, scope)
                if shown_gain or shown_loss:
                    changes.append(
                        CapabilityChange(
                            hsm=hsm,
                            scope=scope,
                            capability=capability,
                            gained=tuple(sorted(labels[p] for p in shown_gain)),
                            lost=tuple(sorted(labels[p] for p in shown_loss)),
                        )
                    )
    return AccessDelta(tuple(changes))


def _not_reported_above(changed_at: dict[str, set[str]], scope: str) -> set[str]:
    # parents are visited first (see _scope_order), so their sets are already filled in
    above = set().union(*(changed_at.get(p, set()) for p in _parents(scope)))
    return changed_at[scope] - above


def state_after_plan(live: LiveState, plan: Plan) -> LiveState:
    """The live state a plan leaves behind, by the same edit semantics the fake backend uses."""
    state = live
    for change in plan.changes:
        if change.plane is Plane.DATA and change.target not in state.hsms:
            # an HSM live state has not seen yet starts empty (the plan creates everything on it)
            state = state.model_copy(update={"hsms": {**state.hsms, change.target: HsmState(url="")}})
        state, _ = apply_to_state(state, change)
    return state


def plan_access_delta(live: LiveState, plan: Plan, principals: Mapping[str, PrincipalInfo]) -> AccessDelta:
    """Who gains or loses sensitive capabilities if `plan` is applied to `live`."""
    before = grants_from_live(live, principals)
    return access_delta(before, grants_from_live(state_after_plan(live, plan), principals))
