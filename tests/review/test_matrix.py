"""The access matrix (core/matrix.py) and its renderers: cells before -> after, places, rows, and
escaping of every untrusted string (HTML, CSV formulas, Markdown)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from hsmsync.core.capabilities import Capability
from hsmsync.core.directory import Directory
from hsmsync.core.grants import Grant, grants_from_desired
from hsmsync.core.matrix import Change, HsmMatrix, Place, access_matrix
from hsmsync.core.state_directory import DirectoryObject
from hsmsync.render.matrix import render_csv, render_html, render_markdown
from tests.review.builders import build, data, pid


def _grants(teams: dict[str, tuple[list[str], list[dict[str, str]]]]) -> tuple[Grant, ...]:
    principals = {"ops": "Group", "app": "ServicePrincipal"}
    return grants_from_desired(build(principals, teams)[1])


BEFORE = _grants(
    {
        "ops": (["ops"], [data("Managed HSM Administrator", "/")]),
        "app": (["app"], [data("Crypto User", "/keys/signing")]),
    }
)
AFTER = _grants(
    {
        "ops": (["ops"], [data("Crypto Officer", "/")]),
        "app": (["app"], [data("Crypto Service Encryption User", "/keys/signing")]),
    }
)


def _cells(m: HsmMatrix) -> dict[tuple[str, str, str], Change]:
    return {
        (r.principal, p.scope, a.value): m.cell(r, p, a).change
        for r in m.rows
        for p in m.places
        for a in m.abilities_at(p)
        if m.cell(r, p, a).change is not Change.NONE
    }


def test_cells_say_kept_gained_lost_and_changed() -> None:
    [m] = access_matrix(BEFORE, AFTER).hsms
    assert m.places == (Place("h1", "/"), Place("h1", "/keys/signing"))
    assert [r.principal for r in m.rows] == ["app", "ops"]
    cells = _cells(m)
    # Administrator -> Crypto Officer: still assigns roles and manages the security domain,
    # loses full backup and restore, gains purge; app: all key use -> wrap and unwrap only.
    assert cells[("ops", "/", "assign roles")] is Change.KEPT
    assert cells[("ops", "/", "start a full backup or restore")] is Change.LOST
    assert cells[("ops", "/", "purge deleted keys")] is Change.GAINED
    # lost as held, yet within reach after: a Crypto Officer can assign itself any role
    ops = next(r for r in m.rows if r.principal == "ops")
    backup = m.cell(ops, m.places[0], Capability.BACKUP_RESTORE)
    assert backup.markers == ("can obtain",) and backup.reach_after == backup.before
    assert backup.how == ("Managed HSM Administrator at / (team ops)",)
    assert cells[("app", "/keys/signing", "use keys")] is Change.CHANGED
    assert cells[("app", "/keys/signing", "export or release keys")] is Change.LOST
    assert ("app", "/", "use keys") not in cells  # a key's grant is not the whole HSM's
    app_use = m.cell(m.rows[0], m.places[1], Capability.USE_KEYS)
    assert app_use.verbs == "wrap, unwrap"
    assert app_use.how == ("Managed HSM Crypto Service Encryption User at /keys/signing (team app)",)


def test_without_before_every_held_cell_is_kept() -> None:
    matrix = access_matrix(None, AFTER)
    assert not matrix.compared
    cells = _cells(matrix.hsms[0])
    assert cells[("app", "/keys/signing", "use keys")] is Change.KEPT
    # Crypto Officer holds roleAssignments/write: it can obtain what it does not hold (not held)
    assert cells[("ops", "/", "use keys")] is Change.REACHABLE
    assert set(cells.values()) == {Change.KEPT, Change.REACHABLE}


def test_all_keys_and_listed_keys_are_places() -> None:
    grants = _grants({"app": (["app"], [data("Crypto User", "/keys")])})
    [m] = access_matrix(None, grants, {"h1": ["zeta", "alpha"]}).hsms
    assert [p.scope for p in m.places] == ["/", "/keys", "/keys/alpha", "/keys/zeta"]
    assert _cells(m)[("app", "/keys/zeta", "use keys")] is Change.KEPT
    assert ("app", "/", "use keys") not in _cells(m)


def test_management_grants_and_readers_make_no_rows() -> None:
    grants = _grants({"ops": (["ops"], [data("Crypto Auditor", "/")])})
    assert access_matrix(None, grants).is_empty


HOSTILE = "=cmd|' /C calc'!A0"


def _hostile() -> tuple[Grant, ...]:
    """Names from live state (a principal the manifest does not name, a key scope): untrusted."""
    [g] = _grants({"app": (["app"], [data("Crypto User", "/keys/k")])})
    return (replace(g, principal=HOSTILE, principal_id=pid("stranger"), scope="/keys/k<script>"),)


def test_csv_cells_are_never_formulas() -> None:
    rows = list(csv.reader(io.StringIO(render_csv(access_matrix(None, _hostile())))))
    assert rows[0] == [
        "hsm",
        "place",
        "principal",
        "principal_type",
        "ability",
        "change",
        "before",
        "after",
        "how",
        "markers",
    ]
    principals = {r[2] for r in rows[1:]}
    assert principals == {"'" + HOSTILE}
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows[1:] for cell in r)


def test_html_and_markdown_escape_names() -> None:
    matrix = access_matrix(BEFORE, _hostile())
    page = render_html(matrix, "<b>header</b>")
    assert "<script>" not in page and "<b>header" not in page
    assert "k&lt;script&gt;" in page and "&#x27; /C calc&#x27;" in page
    md = render_markdown(matrix)
    assert "<script>" not in md and "=cmd\\|" in md


def test_principal_ids_when_the_manifest_does_not_name_them() -> None:
    unnamed = tuple(replace(g, principal=None) for g in AFTER)
    [m] = access_matrix(None, unnamed).hsms
    assert {r.principal for r in m.rows} == {pid("ops"), pid("app")}


def test_a_review_shows_only_the_principals_a_change_moves() -> None:
    unchanged = _grants({"ops": (["ops"], [data("Managed HSM Administrator", "/")])})
    moved = _grants(
        {
            "ops": (["ops"], [data("Managed HSM Administrator", "/")]),
            "app": (["app"], [data("Crypto User", "/keys/signing")]),
        }
    )
    [m] = access_matrix(unchanged, moved).changed_rows().hsms
    assert [r.principal for r in m.rows] == ["app"]
    assert {k[0] for k in m.cells} == {pid("app")}
    assert access_matrix(moved, moved).changed_rows().hsms == ()


def test_group_names_from_the_directory_are_escaped_in_markers() -> None:
    """A group's display name comes from Graph (untrusted): it reaches the cell marker escaped."""
    group = pid("ops")
    member = "00000000-0000-4000-8000-0000000000b1"
    directory = Directory.of(
        [
            DirectoryObject(id=group, type="Group", display_name="<img src=x onerror=alert(1)>|x"),
            DirectoryObject(id=member, type="User", display_name="=HYPERLINK(1)", member_of=(group,)),
        ]
    )
    matrix = access_matrix(None, AFTER, directory=directory)
    [m] = matrix.hsms
    row = next(r for r in m.rows if r.principal_id == member)
    cell = m.cell(row, Place("h1", "/"), Capability.ASSIGN_ROLES)
    assert cell.markers == ("via group <img src=x onerror=alert(1)>|x",)
    page = render_html(matrix)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "via group &lt;img src=x onerror=alert(1)&gt;\\|x" in render_markdown(matrix)
    rows = list(csv.reader(io.StringIO(render_csv(matrix))))
    assert all(not c.startswith(("=", "+", "-", "@")) for r in rows[1:] for c in r)
