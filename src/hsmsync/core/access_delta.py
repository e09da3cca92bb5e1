"""Who gains or loses a sensitive capability between two sets of grants (before/after a change)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hsmsync.core.capabilities import Capability
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.effective import live_grants_with_members
from hsmsync.core.grants import Grant
from hsmsync.core.plan import Plan, Plane
from hsmsync.core.scopes import data_scope_covers
from hsmsync.core.state import LiveState
from hsmsync.core.state_edits import state_after_plan as state_after_plan  # re-exported


@dataclass(frozen=True, slots=True)
class CapabilityChange:
    hsm: str
    scope: str  # '/', '/keys' or '/keys/<key>': where the capability is gained or lost
    capability: Capability
    actions: frozenset[str]  # exactly the capability's actions gained (or lost), short and lower-case
    gained: tuple[str, ...]  # principals, by manifest key or object id
    lost: tuple[str, ...]

    def sentences(self) -> list[str]:
        out = []
        what = self.capability.describe(self.actions)
        for names, word in ((self.gained, "more"), (self.lost, "fewer")):
            if names:
                noun = "principal" if len(names) == 1 else "principals"
                out.append(
                    f"after this change, {len(names)} {word} {noun} can {what} "
                    f"at {self.scope} on {self.hsm}: {', '.join(names)}"
                )
        return out


Place = tuple[str, str]  # (HSM, scope)


@dataclass(frozen=True, slots=True)
class AccessGroup:
    """Principals that gain (or lose) the same ability at the same places: one review line, so a
    role granted per key reads as one line listing the keys, not one line per key."""

    gained: bool
    principals: tuple[str, ...]
    capability: Capability
    actions: frozenset[str]
    places: tuple[Place, ...]

    @property
    def ability(self) -> str:
        return self.capability.describe(self.actions)

    def where(self) -> str:
        """`/keys/a, /keys/b on contoso, fabrikam; / on hsm3`: HSMs with the same scopes share a part."""
        by_hsm: dict[str, list[str]] = {}
        for hsm, scope in self.places:
            by_hsm.setdefault(hsm, []).append(scope)
        by_scopes: dict[tuple[str, ...], list[str]] = {}
        for hsm, scopes in by_hsm.items():
            by_scopes.setdefault(tuple(scopes), []).append(hsm)
        return "; ".join(f"{', '.join(scopes)} on {', '.join(hsms)}" for scopes, hsms in by_scopes.items())

    def sentence(self) -> str:
        change = "can now" if self.gained else "can no longer"
        return f"{', '.join(self.principals)} {change} {self.ability} at {self.where()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": "gained" if self.gained else "lost",
            "principals": list(self.principals),
            "capability": self.capability.value,
            "ability": self.ability,
            "actions": sorted(self.actions),
            "places": [{"hsm": hsm, "scope": scope} for hsm, scope in self.places],
            "sentence": self.sentence(),
        }


@dataclass(frozen=True, slots=True)
class AccessDelta:
    changes: tuple[CapabilityChange, ...]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def sentences(self) -> list[str]:
        return [s for c in self.changes for s in c.sentences()]

    def grouped(self) -> tuple[AccessGroup, ...]:
        """principal x ability x places: each principal's places per (direction, ability), then
        principals with the same places merged into one group."""
        places: dict[tuple[bool, Capability, frozenset[str], str], set[Place]] = {}
        for c in self.changes:
            for gained, names in ((True, c.gained), (False, c.lost)):
                for name in names:
                    places.setdefault((gained, c.capability, c.actions, name), set()).add((c.hsm, c.scope))
        members: dict[tuple[bool, Capability, frozenset[str], tuple[Place, ...]], list[str]] = {}
        for (gained, capability, actions, name), where in places.items():
            ordered = tuple(sorted(where, key=lambda p: (p[0], _scope_order(p[1]))))
            members.setdefault((gained, capability, actions, ordered), []).append(name)
        groups = [
            AccessGroup(gained, tuple(sorted(names)), capability, actions, where)
            for (gained, capability, actions, where), names in members.items()
        ]
        rank = {c: i for i, c in enumerate(Capability)}

        def order(g: AccessGroup) -> tuple[object, ...]:
            return (rank[g.capability], not g.gained, -len(g.actions), sorted(g.actions), g.places)

        return tuple(sorted(groups, key=order))


Held = dict[str, frozenset[str]]  # principal id -> the actions of one capability it holds (or changed)


def _parents(scope: str) -> list[str]:
    if scope == "/":
        return []
    return ["/"] if scope.lower() == "/keys" else ["/keys", "/"]


def _scope_order(scope: str) -> tuple[int, str]:
    return (0 if scope == "/" else 1 if scope.lower() == "/keys" else 2, scope.lower())


GrantIndex = dict[tuple[str, str], list[Grant]]  # (hsm, scope lower-cased) -> grants there


def _index(grants: Sequence[Grant]) -> GrantIndex:
    index: GrantIndex = {}
    for g in grants:
        index.setdefault((g.target, g.scope.lower()), []).append(g)
    return index


def _held(index: GrantIndex, hsm: str, scope: str, capability: Capability) -> Held:
    # Only grants at '/', '/keys' or the scope itself can cover it: looking those up keeps the
    # delta linear in the number of grants (a scan per key scope made it quadratic).
    candidates = (index.get((hsm, s), ()) for s in {"/", "/keys", scope.lower()})
    held: Held = {}
    for g in (g for grants in candidates for g in grants):
        if data_scope_covers(g.scope, scope):
            actions = capability.held_in(g.short_actions)
            if actions:
                held[g.principal_id] = held.get(g.principal_id, frozenset()) | actions
    return held


def _minus(a: Held, b: Held) -> Held:
    out = {p: actions - b.get(p, frozenset()) for p, actions in a.items()}
    return {p: actions for p, actions in out.items() if actions}


def access_delta(before: Sequence[Grant], after: Sequence[Grant]) -> AccessDelta:
    """Per (HSM, scope, capability), who gains or loses which of its actions; data plane only
    (ARM roles reach no key).

    A principal that gains an action at `/` also gains it at every key: it is reported once, at
    the broadest scope where its access changed. Principals that gain (or lose) the same actions
    share a sentence.
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
    old_index, new_index = _index(old), _index(new)
    changes: list[CapabilityChange] = []
    for hsm in sorted(scopes):
        for capability in Capability:
            gained_at: dict[str, Held] = {}
            lost_at: dict[str, Held] = {}
            for scope in sorted(scopes[hsm], key=_scope_order):
                was = _held(old_index, hsm, scope, capability)
                now = _held(new_index, hsm, scope, capability)
                gained_at[scope], lost_at[scope] = _minus(now, was), _minus(was, now)
                shown_gain = _not_reported_above(gained_at, scope)
                shown_loss = _not_reported_above(lost_at, scope)
                changes += _grouped(hsm, scope, capability, shown_gain, shown_loss, labels)
    return AccessDelta(tuple(changes))


def _grouped(
    hsm: str, scope: str, capability: Capability, gained: Held, lost: Held, labels: Mapping[str, str]
) -> list[CapabilityChange]:
    """One change per distinct set of actions, naming who gains and who loses exactly those."""
    out = []
    for actions in sorted({*gained.values(), *lost.values()}, key=lambda a: (-len(a), sorted(a))):
        out.append(
            CapabilityChange(
                hsm=hsm,
                scope=scope,
                capability=capability,
                actions=actions,
                gained=tuple(sorted(labels[p] for p, a in gained.items() if a == actions)),
                lost=tuple(sorted(labels[p] for p, a in lost.items() if a == actions)),
            )
        )
    return out


def _not_reported_above(changed_at: dict[str, Held], scope: str) -> Held:
    # parents are visited first (see _scope_order), so their maps are already filled in
    shown = changed_at[scope]
    for parent in _parents(scope):
        shown = _minus(shown, changed_at.get(parent, {}))
    return shown


def plan_access_delta(live: LiveState, plan: Plan, principals: Mapping[str, PrincipalInfo]) -> AccessDelta:
    """Who gains or loses sensitive capabilities if `plan` is applied to `live`, group members
    (the state's directory) named with the group they hold it through."""
    before = live_grants_with_members(live, principals)
    return access_delta(before, live_grants_with_members(state_after_plan(live, plan), principals))
