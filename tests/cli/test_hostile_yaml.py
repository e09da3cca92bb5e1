"""Hostile or odd YAML (issue 9, item 10): every command that reads a manifest refuses the same
documents, in bounded time and memory, with `file:line` and exit 1, never a traceback."""

from __future__ import annotations

import codecs
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

HEAD = """\
version: 1
principals:
  ops: {type: Group, id: 6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11}
hsms:
  h1:
    url: https://h1.managedhsm.azure.net
    resource_id: /subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1
"""
TEAM = "teams:\n  t:\n    members: [ops]\n    data: [{hsm: h1, role: Crypto User}]\n"


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, tuple[bytes, int, str]] = {
    "recursive-alias": ((HEAD + "teams: &t\n  t: {members: *t}\n").encode(), 8, "anchor '&t' is not allowed"),
    "alias": ((HEAD + "teams:\n  t: &x {members: [ops]}\n  u: *x\n").encode(), 9, "anchor '&x'"),
    "alias-bomb": ((HEAD + _bomb(4)).encode(), 8, "anchor '&a0' is not allowed"),
    "deep-nesting": ((HEAD + "teams: " + "[" * 600 + "]" * 600 + "\n").encode(), 8, "nested more than"),
    "deep-block-nesting": (
        (HEAD + "".join(f"{'  ' * i}k{i}:\n" for i in range(40)) + "  " * 40 + "v: 1\n").encode(),
        40,
        "nested more than 32 levels deep",
    ),
    "merge-key": ((HEAD + "teams:\n  t:\n    <<: {members: [ops]}\n").encode(), 10, "merge key '<<'"),
    "tag-on-mapping": (
        (HEAD + "teams: !!map\n  t: {members: [ops]}\n").encode(),
        8,
        "tag 'tag:yaml.org,2002:map'",
    ),
    "tag-on-scalar": (
        (HEAD.replace("version: 1", "version: !!int 1")).encode(),
        1,
        "tag 'tag:yaml.org,2002:int'",
    ),
    "local-tag": (
        (HEAD + TEAM.replace("role: Crypto User", "role: !custom Crypto User")).encode(),
        11,
        "tag '!custom'",
    ),
    "non-specific-tag": ((HEAD + "teams: ! {}\n").encode(), 8, "tag '!'"),
    "utf-16-with-bom": ((HEAD + TEAM).encode("utf-16"), 1, "the manifest is UTF-16; save it as UTF-8"),
    "utf-16-without-bom": ((HEAD + TEAM).encode("utf-16-le"), 1, "NUL byte"),
    "utf-32": ((HEAD + TEAM).encode("utf-32"), 1, "UTF-32"),
    "latin-1": ((HEAD + TEAM + "# café\n").encode("latin-1"), 12, "not UTF-8: byte 0xe9 at column 6"),
    "stray-byte": (HEAD.encode() + b"teams: {}\xff\n", 8, "not UTF-8: byte 0xff at column 10"),
    "control-character": ((HEAD + "teams: {}\x07\n").encode(), 8, "character U+0007 is not allowed"),
    "two-documents": ((HEAD + "---\nversion: 1\n").encode(), 8, "a manifest is a single YAML document"),
}

COMMANDS = {
    "validate": ("validate",),
    "plan": ("plan", "--state", "s.json"),
    "apply": ("apply", "--state", "s.json", "--auto-approve"),
    "drift": ("drift", "--state", "s.json"),
    "lint": ("lint",),
    "whocan": ("whocan", "--hsm", "h1", "sign"),
    "explain": ("explain", "ops"),
    "resolve": ("resolve", "--state", "s.json"),
    "resolve-check": ("resolve", "--check"),
}
STATE = (
    '{"version": 1, "hsms": {"h1": {"url": "https://h1.managedhsm.azure.net", "resource_id": '
    '"/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/resourceGroups/rg/providers/'
    'Microsoft.KeyVault/managedHSMs/h1"}}, "directory": []}'
)


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize(("raw", "line", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_every_command_refuses_hostile_yaml_with_file_and_line(
    tmp_path: Path, command: tuple[str, ...], raw: bytes, line: int, message: str
):
    (tmp_path / "hsmsync.yaml").write_bytes(raw)
    (tmp_path / "s.json").write_text(STATE)
    result = run_cli(*command, cwd=tmp_path)
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert f"hsmsync.yaml:{line}: " in result.stderr, result.stderr
    assert message in result.stderr
    assert (tmp_path / "hsmsync.yaml").read_bytes() == raw  # resolve wrote nothing


def test_a_billion_laughs_is_refused_at_once(tmp_path: Path):
    (tmp_path / "hsmsync.yaml").write_text(HEAD + _bomb(9))
    started = time.monotonic()
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 1
    assert time.monotonic() - started < 2
    assert "hsmsync.yaml:8: (document): anchor '&a0' is not allowed" in result.stderr


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path):
    (tmp_path / "hsmsync.yaml").write_bytes(codecs.BOM_UTF8 + (HEAD + TEAM).encode())
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr


def test_quoted_merge_key_is_an_ordinary_unknown_field(tmp_path: Path):
    (tmp_path / "hsmsync.yaml").write_text(HEAD + "teams:\n  t:\n    '<<': {members: [ops]}\n")
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 1
    assert "hsmsync.yaml:10: teams.t.<<: unknown field '<<'" in result.stderr
