"""The access matrix: principals x places (an HSM, or one of its keys) x abilities, before -> after.

A picture of the same facts the access delta states in sentences. Every cell is answered by the
core's effective-access function (`who_can`, the one that `hsmsync whocan` uses), one ability's
actions at a time, so whatever that function learns (group membership, PIM eligibility, what a
role writer can obtain) reaches the matrix through the paths it returns: `_marker` is the one
place a path's kind becomes a cell marker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from hsmsync.core.capabilities import Capability
from hsmsync.core.desired import PrincipalInfo
from hsmsync.core.grants import LIVE_ASSIGNMENT, PLANNED_ASSIGNMENT, Grant, grants_from_live
from hsmsync.core.plan import Plan, Plane
from hsmsync.core.scopes import data_scope_covers
from hsmsync.core.state import LiveState
from hsmsync.core.state_edits import state_after_plan
from hsmsync.core.whocan import AccessPath, who_can

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
    # How the access is held when not directly ("via group", "eligible", "can obtain"): the slot
    # effective access fills once its paths carry those kinds; empty for a direct assignment.
    markers: tuple[str, ...] = ()

    @property
    def change(self) -> Change:
        if not self.before and not self.after:
            return Change.NONE
        if not self.before:
            return Change.GAINED
        if not self.after:
            return Change.LOST
        return Change.KEPT if self.before == self.after else Change.CHANGED

    @property
    def text(self) -> str:
        """`use keys (wrap, unwrap)`: exactly what is held after (before, when lost)."""
        held = self.after or self.before
        return self.ability.describe(held) if held else ""

    @property
    def verbs(self) -> str:
        """`wrap, unwrap` when only part of the ability is held (after; before, when lost), else ``."""
        held = self.after or self.before
        return "" if held >= self.ability.actions else ", ".join(self.ability.verbs(held))


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
            moved = {pid for (pid, _, _), c in m.cells.items() if c.change not in (Change.KEPT, Change.NONE)}
            rows = tuple(r for r in m.rows if r.principal_id in moved)
            if rows:
                cells = {k: c for k, c in m.cells.items() if k[0] in moved}
                out.append(HsmMatrix(m.hsm, m.places, rows, cells))
        return AccessMatrix(tuple(out), self.compared)


def _marker(path: AccessPath) -> tuple[str, ...]:
    """A path's kind as a cell marker; a direct assignment has none."""
    del path
    return ()


Held = dict[tuple[str, Place, Capability], tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]]


def _held(grants: Sequence[Grant], hsm: str, places: Sequence[Place], rows: dict[str, Row]) -> Held:
    """Per (principal, place, ability): the actions held there, the paths and their markers."""
    held: dict[tuple[str, Place, Capability], tuple[set[str], dict[str, None], dict[str, None]]] = {}
    by_scope: dict[str, list[Grant]] = {}
    for g in grants:
        by_scope.setdefault(g.scope.lower(), []).append(g)
    for place in places:
        key = place.scope[6:] if place.scope.startswith("/keys/") else None
        abilities = ABILITIES if place.scope == HSM_WIDE else KEY_ABILITIES
        # Only grants at '/', '/keys' or the place itself can reach it: asking about those alone
        # keeps a fleet's matrix linear in its grants.
        near = [g for s in {HSM_WIDE, ALL_KEYS, place.scope.lower()} for g in by_scope.get(s, ())]
        for ability in abilities:
            for action in sorted(ability.actions):
                for p in who_can(near, hsm, action, key):
                    if not data_scope_covers(p.scope, place.scope):
                        continue  # a key's grant does not make the whole HSM's cell
                    rows.setdefault(p.principal_id, Row(p.principal, p.principal_id, p.principal_type))
                    actions, how, marks = held.setdefault((p.principal_id, place, ability), (set(), {}, {}))
                    actions.add(action)
                    how[f"{p.role} at {p.scope} ({p.via})"] = None
                    marks.update(dict.fromkeys(_marker(p)))
    return {k: (frozenset(a), tuple(h), tuple(m)) for k, (a, h, m) in held.items()}


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


def access_matrix(
    before: Sequence[Grant] | None, after: Sequence[Grant], keys: Mapping[str, Iterable[str]] | None = None
) -> AccessMatrix:
    """The matrix of every HSM with a data-plane grant (or in `keys`, HSM -> key names to show
    each): with `before`, what a change does to each cell; without it, what `after` holds.
    Rows: principals holding an ability somewhere, on either side."""
    if before is not None:
        after = _planned(before, after)
    data = [g for g in (*(before or ()), *after) if g.plane is Plane.DATA]
    out = []
    for hsm in sorted({g.target for g in data} | set(keys or {})):
        on_hsm = [g for g in data if g.target == hsm]
        places = _places(hsm, on_hsm, (keys or {}).get(hsm, ()))
        rows: dict[str, Row] = {}
        was = _held([g for g in before if g.target == hsm], hsm, places, rows) if before is not None else {}
        now = _held([g for g in after if g.target == hsm], hsm, places, rows)
        cells = {}
        for where in sorted({*was, *now}, key=lambda k: (k[0], k[1].scope, k[2].value)):
            b = was.get(where, (frozenset(), (), ()))
            a = now.get(where, (frozenset(), (), ()))
            shown = a if a[0] else b  # a lost cell says how it was held
            cells[where] = Cell(b[0], a[0], where[2], shown[1], shown[2])
        if before is None:  # one state: nothing is gained or lost, all is held
            cells = {k: Cell(c.after, c.after, c.ability, c.how, c.markers) for k, c in cells.items()}
        ordered = tuple(sorted(rows.values(), key=lambda r: (r.principal.lower(), r.principal_id)))
        out.append(HsmMatrix(hsm, places, ordered, cells))
    return AccessMatrix(tuple(out), compared=before is not None)


def plan_matrix(live: LiveState, plan: Plan, principals: Mapping[str, PrincipalInfo]) -> AccessMatrix:
    """What `plan` changes in the matrix, applied to `live`: the principals it moves (a review)."""
    before = grants_from_live(live, principals)
    return access_matrix(before, grants_from_live(state_after_plan(live, plan), principals)).changed_rows()
