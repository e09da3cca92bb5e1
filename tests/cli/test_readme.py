"""README slips found by review, kept from coming back."""

from __future__ import annotations

from tests.conftest import REPO


def test_the_demo_paragraph_says_the_tutorial_mismatch_once():
    # Finding 13a: the sentence was there twice, the second time starting "Those commands give".
    readme = (REPO / "README.md").read_text()
    assert readme.count("managed identity *Crypto Auditor* where") == 1
    assert "; Those commands give" not in readme
