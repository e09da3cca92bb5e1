"""The frame of hsmsync's self-contained HTML pages (the plan, the access matrix): one style, no
script, nothing loaded from elsewhere. `body` is HTML its renderer has already escaped."""

from __future__ import annotations

from hsmsync.render.escape import html as escape

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} code{font-size:12px;word-break:break-all}
td{overflow-wrap:anywhere}
.create{color:#1a7f37} .delete{color:#cf222e} .update{color:#9a6700}
.risk{background:#fff8c5} .refused{background:#ffebe9;padding:.5rem}
"""


def page(title: str, body: str, style: str = "") -> str:
    """A whole document: `title` is plain text (escaped here), `body` ready-made HTML."""
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>\n'
        f"<style>{STYLE}{style}</style></head><body>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )
