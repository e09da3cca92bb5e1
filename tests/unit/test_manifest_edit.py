"""Writing ids into the manifest text: only the ids change, byte for byte."""

from __future__ import annotations

import pytest
import yaml

from hsmsync.core.errors import HsmsyncError
from hsmsync.manifest_edit import ManifestDocument

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "aaaaaaaa-0000-4000-8000-000000000002"
C = "aaaaaaaa-0000-4000-8000-000000000003"


def test_flow_and_block_mappings_keep_everything_else() -> None:
    text = (
        "# top\n"
        "version: 1\n"
        "principals:   # who\n"
        "  team:   {type: Group,   name: Security Team}   # aligned\n"
        "  quoted: {type: 'ServicePrincipal', name: 'O''Brien, app'}\n"
        "  alice:\n"
        "    type: User    # a person\n"
        "    upn: alice@contoso.com\n"
    )
    out = ManifestDocument(text, "m.yaml").with_ids({"team": A, "quoted": B, "alice": C})
    assert out == (
        "# top\n"
        "version: 1\n"
        "principals:   # who\n"
        f"  team:   {{type: Group, id: {A},   name: Security Team}}   # aligned\n"
        f"  quoted: {{type: 'ServicePrincipal', id: {B}, name: 'O''Brien, app'}}\n"
        "  alice:\n"
        "    type: User    # a person\n"
        f"    id: {C}\n"
        "    upn: alice@contoso.com\n"
    )


def test_empty_id_is_filled_in_place() -> None:
    text = "principals:\n  a: {type: Group, id: , name: X}\n  b:\n    type: Group\n    id: null  # later\n    name: Y\n"
    out = ManifestDocument(text, "m.yaml").with_ids({"a": A, "b": B})
    assert out == (
        f"principals:\n  a: {{type: Group, id: {A}, name: X}}\n  b:\n    type: Group\n    id: {B}  # later\n    name: Y\n"
    )


def test_crlf_and_a_last_line_without_newline() -> None:
    text = "version: 1\r\nprincipals:\r\n  a:\r\n    type: Group\r\n    name: X\r\n  b:\r\n    name: Y\r\n    type: Group"
    out = ManifestDocument(text, "m.yaml").with_ids({"a": A, "b": B})
    assert out == (
        f"version: 1\r\nprincipals:\r\n  a:\r\n    type: Group\r\n    id: {A}\r\n    name: X\r\n"
        f"  b:\r\n    name: Y\r\n    type: Group\r\n    id: {B}\r\n"
    )


def test_merge_keys_fall_back_to_the_round_trip_dump() -> None:
    text = "base: &base {type: Group}\nprincipals:\n  a:\n    <<: *base\n    name: X  # kept\n"
    out = ManifestDocument(text, "m.yaml").with_ids({"a": A})
    assert "# kept" in out
    assert yaml.safe_load(out)["principals"]["a"] == {"type": "Group", "id": A, "name": "X"}


def test_line_numbers() -> None:
    doc = ManifestDocument("version: 1\nprincipals:\n  a:\n    type: User\n    upn: x@y\n", "m.yaml")
    assert (doc.line_of("a"), doc.line_of("a", "upn"), doc.line_of("missing")) == (3, 5, 1)


def test_unparseable_text_is_a_user_error() -> None:
    with pytest.raises(HsmsyncError, match="m.yaml: cannot parse"):
        ManifestDocument("principals: {a: [\n", "m.yaml")
