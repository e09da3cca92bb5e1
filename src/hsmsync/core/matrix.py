"""The access matrix: principals x places (an HSM, or one of its keys) x abilities, before -> after.

A picture of the same facts the access delta states in sentences. Grants are followed through
groups by `effective.expand`, and every (principal, place) is answered by `effective.abilities`
(held, once activated, obtainable: what `hsmsync whocan` reasons with), so a cell says "via group
ops", "eligible (once activated)" or "can obtain"; `_side` is the one place an answer becomes a
cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from hsmsync.core.capabilities import Capability
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.directory import Directory
from hsmsync.core.effective import (
    Abilities,
    Ability,
    EffectiveGrant,
    Status,
    abilities,
    directory_of,
    expand,
    manifest_names,
)
from hsmsync.core.grants import LIVE_ASSIGNMENT, PLANNED_ASSIGNMENT, Grant, grants_from_live
from hsmsync.core.plan import Plan, Plane
from hsmsync.core.state import LiveState
from hsmsync.core.state_edits import state_after_plan

ABILITIES = tuple(Capability)
# Abilities that exist per key; the others (role definitions, security domain, full backup and
# restore) are HSM-wide, so a key's column has no cell for them.
KEY_ABILITIES = (
    Capability.ASSIGN_ROLES,
    Capability.USE_KEYS,
    Capability.EXPORT_OR_RELEASE,
    Capability.PURGE,
)
HSM_WIDE = "/"
ALL_KEYS = "/keys"


class Change(StrEnum):
    KEPT = "kept"  # held before and after, the same actions
    GAINED = "gained"
    LOST = "lost"
    CHANGED = "changed"  # held before and after, with other actions
    REACHABLE = "reachable"  # held neither before nor after, within reach on both (eligible, can obtain)
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Place:
    hsm: str
    scope: str  # "/" (the whole HSM), "/keys" (all its keys) or "/keys/<key>"

    @property
    def label(self) -> str:
        """`whole HSM`, `all keys`, `key app-signing` (the HSM is named by the table's heading)."""
        if self.scope in (HSM_WIDE, ALL_KEYS):
            return "whole HSM" if self.scope == HSM_WIDE else "all keys"
        return f"key {self.scope[6:]}"


@dataclass(frozen=True, slots=True)
class Row:
    principal: str  # manifest key, or object id
    principal_id: str
    principal_type: str


@dataclass(frozen=True, slots=True)
class Cell:
    before: frozenset[str]  # the ability's actions held before (short, lower-cased); empty: none
    after: frozenset[str]
    ability: Capability
    how: tuple[str, ...] = ()  # the paths: "Crypto User at / (team application)"
    # How the shown side is held when not directly: "via group ops", "eligible (once activated)",
    # "can obtain"; empty for a direct assignment.
    markers: tuple[str, ...] = ()
    # Not held but within reach: once a PIM-eligible membership is activated, or by assigning
    # oneself a role (roleAssignments/write at a covering scope).
    reach_before: frozenset[str] = frozenset()
    reach_after: frozenset[str] = frozenset()

    @property
    def change(self) -> Change:
        """Over what is held when it is held on either side, else over what is within reach."""
        before, after = (self.before, self.after) if self.before or self.after else self._reach
        if not before and not after:
            return Change.NONE
        if not before:
            return Change.GAINED
        if not after:
            return Change.LOST
        if not self.before and not self.after:
            return Change.REACHABLE
        return Change.KEPT if before == after else Change.CHANGED

    @property
    def _reach(self) -> tuple[frozenset[str], frozenset[str]]:
        return self.reach_before, self.reach_after

    @property
    def shown(self) -> frozenset[str]:
        """What the cell speaks of: held after (before, when lost), else within reach."""
        return self.after or self.before or self.reach_after or self.reach_before

    @property
    def text(self) -> str:
        """`use keys (wrap, unwrap)`: exactly what is held after (before, when lost)."""
        return self.ability.describe(self.shown) if self.shown else ""

    @property
    def verbs(self) -> str:
        """`wrap, unwrap` when only part of the ability is held (after; before, when lost), else ``."""
        shown = self.shown
        return "" if shown >= self.ability.actions else ", ".join(self.ability.verbs(shown))


@dataclass(frozen=True, slots=True)
class HsmMatrix:
    hsm: str
    places: tuple[Place, ...]
    rows: tuple[Row, ...]
    cells: Mapping[tuple[str, Place, Capability], Cell] = field(default_factory=dict)

    def abilities_at(self, place: Place) -> tuple[Capability, ...]:
        return ABILITIES if place.scope == HSM_WIDE else KEY_ABILITIES

    def cell(self, row: Row, place: Place, ability: Capability) -> Cell:
        return self.cells.get((row.principal_id, place, ability), Cell(frozenset(), frozenset(), ability))


_MOVED = (Change.GAINED, Change.LOST, Change.CHANGED)


@dataclass(frozen=True, slots=True)
class AccessMatrix:
    hsms: tuple[HsmMatrix, ...]
    compared: bool  # before -> after; False: one state only, every held cell `kept`

    @property
    def is_empty(self) -> bool:
        return not any(m.rows for m in self.hsms)

    def changed_rows(self) -> AccessMatrix:
        """Only the principals a change gains or loses something for (with all their cells), and
        only the HSMs where that happens: what a plan's review shows."""
        out = []
        for m in self.hsms:
            moved = {pid for (pid, _, _), c in m.cells.items() if c.change in _MOVED}
            rows = tuple(r for r in m.rows if r.principal_id in moved)
            if rows:
                cells = {k: c for k, c in m.cells.items() if k[0] in moved}
                out.append(HsmMatrix(m.hsm, m.places, rows, cells))
        return AccessMatrix(tuple(out), self.compared)


@dataclass(frozen=True, slots=True)
class Side:
    """One side (before or after) of a cell: what is held, what is within reach without holding
    it (once a PIM-eligible membership is activated, or by assigning oneself a role), and how."""

    held: frozenset[str] = frozenset()
    potential: frozenset[str] = frozenset()
    how: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()


def _how(e: EffectiveGrant) -> str:
    """`Crypto User at / (team app)`, through groups: `..., through group ops [member]`."""
    g = e.grant
    through = f", through {' -> '.join(h.describe() for h in e.hops)}" if e.hops else ""
    return f"{g.role_name} at {g.scope} ({g.via}){through}"


def _side(found: Abilities, ability: Capability) -> Side | None:
    """The cell `ability` of one principal at one place, from `abilities`' answer (None: nothing)."""

    def of(
        listed: tuple[Ability, ...], leave: frozenset[str] = frozenset()
    ) -> tuple[frozenset[str], list[EffectiveGrant]]:
        mine = [a for a in listed if a.action not in leave and ability.held_in(frozenset({a.action}))]
        return frozenset(a.action for a in mine), [e for a in mine for e in a.paths]

    held, held_paths = of(found.held)
    eligible, eligible_paths = of(found.once_activated, held)
    obtain, writers = of(found.obtainable, held | eligible)
    if not held and not eligible and not obtain:
        return None

    def part(actions: frozenset[str]) -> str:  # with part of the ability held: which verbs are not
        return f": {', '.join(ability.verbs(actions))}" if held else ""

    how = [_how(e) for e in (*held_paths, *eligible_paths)]
    how += [f"can obtain: {_how(e)} holds roleAssignments/write" for e in writers]
    # The words a cell shows beside its symbol, saying how it is held when not directly.
    marks = [f"via group {e.hops[-1].group}" for e in held_paths if e.hops]
    marks += [
        f"eligible (once activated) via group {e.hops[-1].group}{part(eligible)}" for e in eligible_paths
    ]
    if obtain:
        later = all(e.status is Status.ONCE_ACTIVATED for e in writers)
        marks.append(f"can obtain{' once activated' if later else ''}{part(obtain)}")
    return Side(held, eligible | obtain, tuple(dict.fromkeys(how)), tuple(dict.fromkeys(marks)))


Held = dict[tuple[str, Place, Capability], Side]


def _held(
    effective: Sequence[EffectiveGrant], hsm: str, places: Sequence[Place], rows: dict[str, Row]
) -> Held:
    """Per (principal, place, ability): what `abilities` (the effective-access answer) gives."""
    held: Held = {}
    by_scope: dict[str, list[EffectiveGrant]] = {}
    for e in effective:
        if e.grant.plane is Plane.DATA and e.grant.target == hsm:
            by_scope.setdefault(e.grant.scope.lower(), []).append(e)
    # Below the whole HSM every grant asked about covers the place, so the same grants give the
    # same cells at every key (an Administrator at '/'): answered once, reused key after key.
    answered: dict[tuple[str, bool, tuple[int, ...]], list[tuple[Capability, Side]]] = {}
    for place in places:
        # Only grants at '/', '/keys' or the place itself can reach it: asking about those alone
        # keeps a fleet's matrix linear in its grants.
        near: dict[str, list[EffectiveGrant]] = {}
        for s in dict.fromkeys((HSM_WIDE, ALL_KEYS, place.scope.lower())):
            for e in by_scope.get(s, ()):
                near.setdefault(e.principal_id.lower(), []).append(e)
        whole = place.scope == HSM_WIDE
        for principal_id, mine in near.items():
            asked = (principal_id, whole, tuple(id(e) for e in mine))
            if asked not in answered:
                found = abilities(mine, principal_id, hsm, place.scope)
                sides = ((a, _side(found, a)) for a in (ABILITIES if whole else KEY_ABILITIES))
                answered[asked] = [(a, side) for a, side in sides if side is not None]
            for ability, side in answered[asked]:
                first = mine[0]
                rows.setdefault(principal_id, Row(first.principal, principal_id, first.principal_type))
                held[(principal_id, place, ability)] = side
    return held


def _places(hsm: str, grants: Iterable[Grant], keys: Iterable[str]) -> tuple[Place, ...]:
    """The whole HSM, all its keys (when a grant is at `/keys`), and each key a grant names or
    `keys` lists: a key no grant names reads like the whole HSM's key columns."""
    named = {k.lower(): k for k in keys}
    all_keys = False
    for g in grants:
        scope = g.scope.lower()
        all_keys = all_keys or scope == ALL_KEYS
        if scope.startswith("/keys/"):
            named.setdefault(scope[6:], g.scope[6:])
    every = (Place(hsm, ALL_KEYS),) if all_keys else ()
    return (Place(hsm, HSM_WIDE), *every, *(Place(hsm, f"/keys/{named[k]}") for k in sorted(named)))


def _planned(before: Sequence[Grant], after: Sequence[Grant]) -> list[Grant]:
    """`after` with the assignments only the plan makes called planned: the state after a plan
    lists them as assignments, but a reviewer must not read them as live ones."""
    live = {(g.target, g.via) for g in before}
    prefix = f"{LIVE_ASSIGNMENT} "
    return [
        replace(g, via=PLANNED_ASSIGNMENT + g.via[len(LIVE_ASSIGNMENT) :])
        if g.via.startswith(prefix) and (g.target, g.via) not in live
        else g
        for g in after
    ]


def _cell(ability: Capability, b: Side, a: Side) -> Cell:
    """A cell from its two sides; it says how the side it speaks of is held (a lost cell, how it
    was held, and what is still within reach after)."""
    if a.held or (not b.held and (a.potential or not b.potential)):  # nothing lost: speak of after
        how, markers = a.how, a.markers
    else:
        how, markers = b.how, tuple(dict.fromkeys((*b.markers, *(m for m in a.markers if not a.held))))
    return Cell(b.held, a.held, ability, how, markers, b.potential, a.potential)


def access_matrix(
    before: Sequence[Grant] | None,
    after: Sequence[Grant],
    keys: Mapping[str, Iterable[str]] | None = None,
    directory: Directory | None = None,
    names: Mapping[str, str] | None = None,
) -> AccessMatrix:
    """The matrix of every HSM with a data-plane grant (or in `keys`, HSM -> key names to show
    each): with `before`, what a change does to each cell; without it, what `after` holds.

    Grants are followed through `directory`'s groups (`effective.expand`; `names`: object id ->
    manifest key); each cell is `effective.abilities`' answer. Rows: principals holding an
    ability somewhere, or able to once activated or to obtain it, on either side."""
    if before is not None:
        after = _planned(before, after)
    data = [g for g in (*(before or ()), *after) if g.plane is Plane.DATA]
    named = dict(names or {})
    out = []
    for hsm in sorted({g.target for g in data} | set(keys or {})):
        places = _places(hsm, [g for g in data if g.target == hsm], (keys or {}).get(hsm, ()))
        rows: dict[str, Row] = {}

        was, now = (
            _held(expand([g for g in grants if g.target == hsm], directory, named), hsm, places, rows)
            for grants in (before or (), after)
        )
        cells = {}
        for where in sorted({*was, *now}, key=lambda k: (k[0], k[1].scope, k[2].value)):
            cells[where] = _cell(where[2], was.get(where, Side()), now.get(where, Side()))
        if before is None:  # one state: nothing is gained or lost
            cells = {k: _cell(k[2], now[k], now[k]) for k in cells}
        ordered = tuple(sorted(rows.values(), key=lambda r: (r.principal.lower(), r.principal_id)))
        out.append(HsmMatrix(hsm, places, ordered, cells))
    return AccessMatrix(tuple(out), compared=before is not None)


def plan_matrix(
    live: LiveState, plan: Plan, principals: Mapping[str, PrincipalInfo], after_plan: LiveState | None = None
) -> AccessMatrix:
    """What `plan` changes in the matrix, applied to `live` (`after_plan`, when the caller has it;
    group members through the live state's directory): the principals it moves (a review)."""
    before = grants_from_live(live, principals)
    after = grants_from_live(after_plan or state_after_plan(live, plan), principals)
    directory, names = directory_of(live), manifest_names(principals)
    return access_matrix(before, after, directory=directory, names=names).changed_rows()
