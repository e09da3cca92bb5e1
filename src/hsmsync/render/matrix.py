"""The access matrix (core/matrix.py) as HTML, CSV and Markdown. Renderers compute nothing: every
cell, its change and its words come from the core; every untrusted string is escaped."""

from __future__ import annotations

import csv
import io

from hsmsync.core.capabilities import Capability
from hsmsync.core.matrix import AccessMatrix, Cell, Change, HsmMatrix, Row
from hsmsync.render.escape import csv_cell, md
from hsmsync.render.escape import html as escape
from hsmsync.render.html_page import page

SYMBOL = {
    Change.KEPT: "●",
    Change.GAINED: "+",
    Change.LOST: "−",
    Change.CHANGED: "±",
    Change.REACHABLE: "◌",
    Change.NONE: "",
}
_REACHABLE = "not held, within reach: eligible (once activated) or can obtain (assigns itself a role)"
_LEGEND = {
    Change.KEPT: "held (before and after)",
    Change.GAINED: "gained by the change",
    Change.LOST: "lost by the change",
    Change.CHANGED: "held, with other actions after the change",
    Change.REACHABLE: _REACHABLE,
}
_ONE_STATE_LEGEND = {Change.KEPT: "held", Change.REACHABLE: _REACHABLE}
MATRIX_STYLE = """
table.matrix{width:auto} table.matrix td.cell{text-align:center;min-width:4.5rem}
td.cell.kept{background:#ddf4ff} td.cell.gained{background:#dafbe1;color:#1a7f37;font-weight:600}
td.cell.lost{background:#ffebe9;color:#cf222e;font-weight:600;text-decoration:line-through}
td.cell.changed{background:#fff8c5}
td.cell.reachable{background:#f6f8fa;color:#57606a;outline:1px dashed #8c959f;outline-offset:-3px}
td.cell small,th small{display:block;font-weight:400;color:#57606a}
span.legend{margin-right:1.2rem} span.legend span.cell{padding:0 .3rem}
"""


def _cell_html(row: Row, place_scope: str, cell: Cell) -> str:
    change = cell.change
    title = "; ".join([cell.text, *cell.how, *cell.markers]) if cell.text else "no access"
    detail = "".join(f"<small>{escape(x)}</small>" for x in (cell.verbs, *cell.markers) if x)
    return (
        f'<td class="cell {change.value}" data-principal="{escape(row.principal)}" '
        f'data-place="{escape(place_scope)}" data-ability="{escape(cell.ability.value)}" '
        f'data-change="{change.value}" title="{escape(title)}">{SYMBOL[change]}{detail}</td>'
    )


def _hsm_table(m: HsmMatrix) -> str:
    groups = "".join(
        f'<th colspan="{len(m.abilities_at(p))}" scope="colgroup">{escape(p.label)}</th>' for p in m.places
    )
    names = "".join(f'<th scope="col">{a.value}</th>' for p in m.places for a in m.abilities_at(p))
    body = []
    for r in m.rows:
        cells = "".join(_cell_html(r, p.scope, m.cell(r, p, a)) for p in m.places for a in m.abilities_at(p))
        who = f"{escape(r.principal)}<small>{escape(r.principal_type)}</small>"
        body.append(f'<tr><th scope="row" data-principal="{escape(r.principal)}">{who}</th>{cells}</tr>')
    return (
        f'<table class="matrix" data-hsm="{escape(m.hsm)}"><thead>'
        f'<tr><th rowspan="2">principal</th>{groups}</tr><tr>{names}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def matrix_section(matrix: AccessMatrix, heading: str = "Access matrix") -> str:
    """The matrix as an HTML fragment (a heading, a legend, one table per HSM)."""
    if matrix.is_empty:
        return f"<h2>{escape(heading)}</h2><p>Nobody holds any of these abilities.</p>"
    shown = _LEGEND if matrix.compared else _ONE_STATE_LEGEND
    legend = " ".join(
        f'<span class="legend"><span class="cell {c.value}">{SYMBOL[c]}</span> {w}</span>'
        for c, w in shown.items()
    )
    tables = "".join(
        f"<h3>HSM {escape(m.hsm)}</h3>{_hsm_table(m)}"
        if m.rows
        else f"<h3>HSM {escape(m.hsm)}</h3><p>Nobody.</p>"
        for m in matrix.hsms
    )
    return f'<h2>{escape(heading)}</h2><p class="legend">{legend}</p>{tables}'


def render_html(matrix: AccessMatrix, header: str = "") -> str:
    """A standalone page for auditors."""
    title = "hsmsync access matrix"
    intro = f"<p>{escape(header)}</p>" if header else ""
    return page(title, intro + matrix_section(matrix, "Who can do what, where"), MATRIX_STYLE)


_CSV_HEADER = (
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
)


def _side_text(ability: Capability, held: frozenset[str], reach: frozenset[str]) -> str:
    if held:
        return ability.describe(held)
    return f"within reach: {ability.describe(reach)}" if reach else ""


def render_csv(matrix: AccessMatrix) -> str:
    """One line per cell where something is held or within reach (before or after): filterable in a
    spreadsheet; `markers` says how ("via group ops", "eligible (once activated)", "can obtain")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_HEADER)
    for m in matrix.hsms:
        for r in m.rows:
            for p in m.places:
                for a in m.abilities_at(p):
                    c = m.cell(r, p, a)
                    if c.change is Change.NONE:
                        continue
                    fields = (
                        m.hsm,
                        p.scope,
                        r.principal,
                        r.principal_type,
                        a.value,
                        c.change.value,
                        _side_text(a, c.before, c.reach_before),
                        _side_text(a, c.after, c.reach_after),
                        "; ".join(c.how),
                        "; ".join(c.markers),
                    )
                    writer.writerow([csv_cell(f) for f in fields])
    return out.getvalue()


def _md_cell(c: Cell) -> str:
    if c.change is Change.NONE:
        return ""
    words = "; ".join(md(x) for x in (c.verbs, *c.markers) if x)
    mark = {Change.GAINED: "**+**", Change.LOST: "~~−~~"}.get(c.change, SYMBOL[c.change])
    return f"{mark} {words}".strip()


def render_markdown(matrix: AccessMatrix) -> str:
    legend = ", ".join(
        f"{SYMBOL[c]} {w}" for c, w in (_LEGEND if matrix.compared else _ONE_STATE_LEGEND).items()
    )
    out = ["## Access matrix", "", f"Legend: {legend}."]
    for m in matrix.hsms:
        out += ["", f"### HSM {md(m.hsm)}", ""]
        if not m.rows:
            out.append("Nobody.")
            continue
        columns = [f"{md(p.label)}: {a.value}" for p in m.places for a in m.abilities_at(p)]
        out.append("| principal | " + " | ".join(columns) + " |")
        out.append("| --- |" + " --- |" * len(columns))
        for r in m.rows:
            cells = [_md_cell(m.cell(r, p, a)) for p in m.places for a in m.abilities_at(p)]
            out.append(f"| {md(r.principal)} ({md(r.principal_type)}) | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
