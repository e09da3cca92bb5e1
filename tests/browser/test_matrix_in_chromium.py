"""The Contoso access matrix, loaded in headless chromium: the page renders, the cells the browser
shows (read from its DOM and computed styles, not from the HTML string) are Contoso's expected
ones, and a screenshot is kept in out/test-artifacts/matrix/."""

from __future__ import annotations

import json
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chromium import chromium, run_headless
from tests.conftest import REPO, run_cli

ARTIFACTS = REPO / "out" / "test-artifacts" / "matrix"

# Runs in the browser on the test's copy of the page (the product's page has no script): every
# matrix cell as the browser laid it out, written into the DOM that --dump-dom prints.
PROBE = """<script>
const cells = [...document.querySelectorAll("table.matrix td.cell")].map(td => {
  const box = td.getBoundingClientRect();
  return {principal: td.dataset.principal, place: td.dataset.place, ability: td.dataset.ability,
          change: td.dataset.change, text: td.innerText.replace(/\\s+/g, " ").trim(),
          background: getComputedStyle(td).backgroundColor, shown: box.width > 0 && box.height > 0};
});
const rows = [...document.querySelectorAll("table.matrix tbody th[scope=row]")].map(th => th.dataset.principal);
const out = document.createElement("pre");
out.id = "probe";
out.textContent = JSON.stringify({title: document.title, tables: document.querySelectorAll("table.matrix").length,
                                  rows, cells});
document.body.appendChild(out);
</script>"""

ADMIN = (
    "assign roles",
    "manage role definitions",
    "manage the security domain",
    "start a full backup or restore",
)
INITIAL_ADMIN = (
    "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f88"  # Azure's initial administrator, kept (not in the manifest)
)
KEYS = ("/keys", "/keys/app-signing")
OBTAINABLE = ("use keys", "export or release keys", "purge deleted keys")


def _expected() -> dict[tuple[str, str, str], tuple[str, str]]:
    """Contoso, the tutorial's live state -> after the plan: (principal, place, ability) ->
    (change, what the cell says). Every other cell is empty."""
    out: dict[tuple[str, str, str], tuple[str, str]] = {}
    for who, change, symbol in (
        (INITIAL_ADMIN, "kept", "●"),
        ("security-team", "kept", "●"),
        ("pipeline", "gained", "+"),
    ):
        out.update({(who, "/", a): (change, symbol) for a in ADMIN})
        out.update({(who, place, "assign roles"): (change, symbol) for place in KEYS})
        # An Administrator holds roleAssignments/write: it can obtain what it does not hold.
        reach = ("reachable", "◌ can obtain") if change == "kept" else ("gained", "+ can obtain")
        out.update({(who, place, a): reach for place in ("/", *KEYS) for a in OBTAINABLE})
    for place in ("/", *KEYS):
        out[("app-vm", place, "use keys")] = ("gained", "+")
        out[("app-vm", place, "export or release keys")] = ("gained", "+ release")
        out[("storage", place, "use keys")] = ("kept", "● wrap, unwrap")
    return out


class _Probe(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = self.inside or (tag == "pre" and ("id", "probe") in attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.text += data


def _probe(dom: str) -> dict[str, Any]:
    parser = _Probe()
    parser.feed(dom)
    assert parser.text, f"the browser's DOM has no probe output: the page did not load\n{dom[:2000]}"
    result: dict[str, Any] = json.loads(parser.text)
    return result


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_contoso_matrix_renders_in_chromium(contoso: Path) -> None:
    result = run_cli("matrix", "--state", "live-as-tutorial.json", "--format", "html", cwd=contoso)
    assert result.exit_code == 0, result.stderr
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    page = ARTIFACTS / "contoso-matrix.html"
    page.write_text(result.stdout, encoding="utf-8")
    probed = contoso / "probed.html"
    probed.write_text(result.stdout.replace("</body>", PROBE + "</body>"), encoding="utf-8")

    dom = run_headless(probed, "--dump-dom")
    (ARTIFACTS / "contoso-matrix.dom.html").write_text(dom, encoding="utf-8")
    seen = _probe(dom)
    assert seen["title"] == "hsmsync access matrix" and seen["tables"] == 1
    assert seen["rows"] == [INITIAL_ADMIN, "app-vm", "pipeline", "security-team", "storage"]
    # 5 principals x (7 abilities on the whole HSM + 4 on all keys + 4 on the key app-signing)
    assert len(seen["cells"]) == 5 * 15
    assert all(c["shown"] for c in seen["cells"]), "a cell has no size: the table did not lay out"
    shown = {(c["principal"], c["place"], c["ability"]): (c["change"], c["text"]) for c in seen["cells"]}
    assert {k: v for k, v in shown.items() if v[0] != "none"} == _expected()
    assert all(text == "" for change, text in shown.values() if change == "none")
    # the stylesheet applied: gained green, kept blue, within reach grey, empty cells white
    colours = {c["change"]: c["background"] for c in seen["cells"]}
    assert colours == {
        "gained": "rgb(218, 251, 225)",
        "kept": "rgb(221, 244, 255)",
        "reachable": "rgb(246, 248, 250)",
        "none": "rgba(0, 0, 0, 0)",
    }

    screenshot = ARTIFACTS / "contoso-matrix.png"
    run_headless(page, f"--screenshot={screenshot}", "--window-size=1600,900", "--hide-scrollbars")
    assert _png_size(screenshot) == (1600, 900)
    assert screenshot.stat().st_size > 20_000, "the screenshot is (nearly) blank"


def test_group_members_eligible_members_and_escalation_in_chromium(contoso: Path) -> None:
    """Contoso with its directory: a member through nested groups, a PIM-eligible member and an
    escalation holder, as the browser shows their cells."""
    result = run_cli("matrix", "--state", "live-with-groups.json", "--format", "html", cwd=contoso)
    assert result.exit_code == 0, result.stderr
    probed = contoso / "probed-groups.html"
    probed.write_text(result.stdout.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_headless(probed, "--dump-dom")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "contoso-groups-matrix.dom.html").write_text(dom, encoding="utf-8")
    seen = _probe(dom)
    shown = {(c["principal"], c["place"], c["ability"]): (c["change"], c["text"]) for c in seen["cells"]}
    alice, bob = "Alice (on-call engineer)", "Bob (security, just in time)"
    assert shown[(alice, "/", "manage the security domain")] == ("kept", "● via group Contoso Security Team")
    assert shown[(bob, "/", "manage the security domain")] == (
        "reachable",
        "◌ eligible (once activated) via group Contoso Security Team",
    )
    assert shown[(bob, "/keys/app-signing", "use keys")] == ("reachable", "◌ can obtain once activated")
    assert shown[("pipeline", "/keys/app-signing", "use keys")] == ("reachable", "◌ can obtain")
    assert shown[("app-vm", "/keys/app-signing", "use keys")] == ("kept", "●")
    assert "security CI runner" not in seen["rows"]  # a service principal's group: not honoured


def test_a_missing_chromium_fails_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HSMSYNC_TEST_CHROMIUM", str(tmp_path / "chromium"))
    with pytest.raises(pytest.fail.Exception, match=r"chromium is missing: .*apt-get install -y chromium"):
        chromium()
