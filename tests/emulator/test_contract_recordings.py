"""Contract tests: replay real Managed HSM traffic (Azure SDK test recordings) against the emulator.

Each recording is turned into a state (its built-in catalog, custom roles and assignments as the
service listed them before the recorded changes), then every recorded request is sent again and
the emulator's answer is compared with the service's: status, headers, error codes and messages,
and, for RBAC bodies, the whole JSON (lists compared as sets). Key bodies are compared by shape.
Sanitizer placeholders (`some-uuid`, `definition-name`, ...) become fixed GUIDs first.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hsmsync.core.catalog import definition_from_rest
from hsmsync.core.ids import is_guid
from hsmsync.core.state import DataRoleAssignment, HsmState, LiveState
from hsmsync_emulator import Emulator, FaultConfig, start_emulator
from hsmsync_files.statefile import write_state_file
from tests.signin import token_for

from .conftest import send_raw

# Copied from the project's reference material with their provenance (tests/fixtures/recordings/README.md).
RECORDINGS = Path(__file__).parents[1] / "fixtures" / "recordings"
FILES = sorted(p for p in RECORDINGS.glob("*.json") if not p.name.startswith("specs-"))  # specs-*: synthetic


def test_the_recordings_are_in_the_repository() -> None:
    # A missing fixture must fail loudly, never turn the contract tests into zero tests.
    assert len(FILES) == 14, f"expected 14 recordings in {RECORDINGS}, found {len(FILES)}"


TENANT = "12345678-1234-1234-1234-123456789012"
CALLER = "5ca11e45-0000-4000-8000-000000000001"
CALLER_ASSIGNMENTS = ("5ca11e45-0000-4000-8000-0000000000a1", "5ca11e45-0000-4000-8000-0000000000a2")
PLACEHOLDERS = ("definition-name", "service-principal-id", "some-uuid")
ACTIVITY = re.compile(r" \(Activity ID: [^)]*\)$")
CHALLENGE = re.compile(
    r'^Bearer authorization="https://login\.microsoftonline\.com/[0-9a-f-]+", resource="https://managedhsm\.azure\.net"$'
)
VOLATILE_HEADERS = {"content-length", "x-ms-server-latency", "x-ms-build-version", "www-authenticate"}
# Sent on some answers only: region and network info on 2xx, the build version on answers to GET.
PER_ANSWER_HEADERS = ("x-ms-keyvault-region", "x-ms-keyvault-network-info", "x-ms-build-version")


def _guid_for(placeholder: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hsmsync-contract/{placeholder}"))


def load(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, _guid_for(placeholder))
    entries: list[dict[str, Any]] = json.loads(text)["Entries"]
    return entries


def _path(entry: dict[str, Any]) -> str:
    parts = urlsplit(entry["RequestUri"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _is_list(entry: dict[str, Any], kind: str) -> bool:
    return entry["RequestMethod"] == "GET" and urlsplit(entry["RequestUri"]).path.endswith(f"/{kind}")


def _created_before(entries: list[dict[str, Any]], index: int, kind: str) -> set[str]:
    return {
        urlsplit(e["RequestUri"]).path.rsplit("/", 1)[1]
        for e in entries[:index]
        if e["RequestMethod"] == "PUT" and f"/{kind}/" in e["RequestUri"] and e["StatusCode"] == 201
    }


def seed_state(entries: list[dict[str, Any]]) -> LiveState:
    """The HSM as the recording's first lists show it, before the recording's own changes."""
    builtins = None
    customs: list[Any] = []
    assignments = [
        DataRoleAssignment(name=name, scope="/", role_definition_id=role, principal_id=CALLER)
        for name, role in zip(
            CALLER_ASSIGNMENTS,
            ("a290e904-7015-4bba-90c8-60543313cdb4", "21dbd100-6940-42c2-9190-5d6cb909625b"),
            strict=True,
        )
    ]
    for i, e in enumerate(entries):
        if e["StatusCode"] != 200:
            continue
        if _is_list(e, "roleDefinitions") and builtins is None:
            made = _created_before(entries, i, "roleDefinitions")
            items = [definition_from_rest(d) for d in e["ResponseBody"]["value"]]
            builtins = tuple(d for d in items if d.is_builtin)
            customs = [d for d in items if not d.is_builtin and d.name not in made]
        if _is_list(e, "roleAssignments") and len(assignments) == 2:
            made = _created_before(entries, i, "roleAssignments")
            for a in e["ResponseBody"]["value"]:
                p = a["properties"]
                if a["name"] not in made and is_guid(p["principalId"]):
                    assignments.append(
                        DataRoleAssignment(
                            name=a["name"],
                            scope=p["scope"],
                            role_definition_id=p["roleDefinitionId"].rsplit("/", 1)[1],
                            principal_id=p["principalId"],
                        )
                    )
    hsm = HsmState(
        url="https://recorded.managedhsm.azure.net",
        builtin_role_definitions=builtins,
        role_definitions=tuple(customs),
        role_assignments=tuple(assignments),
    )
    return LiveState(tenant_id=TENANT, hsms={"recorded": hsm})


def canonical(body: Any) -> Any:
    """Activity IDs dropped, lists of named objects as sorted lists, the test caller's assignments gone."""
    if isinstance(body, dict):
        out = {k: canonical(v) for k, v in body.items()}
        if "error" in out and isinstance(out["error"], dict) and "message" in out["error"]:
            out["error"]["message"] = ACTIVITY.sub("", out["error"]["message"])
        if isinstance(out.get("value"), list):
            out["value"] = sorted(
                (v for v in out["value"] if v.get("name") not in CALLER_ASSIGNMENTS), key=lambda v: v["name"]
            )
        return out
    if isinstance(body, list):
        return [canonical(v) for v in body]
    return body


def shape(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: shape(v) for k, v in body.items()}
    if isinstance(body, list):
        return [shape(body[0])] if body else []
    return type(body).__name__


@pytest.fixture
def recorded(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[list[dict[str, Any]], Emulator]:
    entries = load(request.param)
    state = tmp_path / "state.json"
    write_state_file(state, seed_state(entries))
    emu = start_emulator(state, faults=FaultConfig(throttle=0), workdir=tmp_path / "emu")
    request.addfinalizer(emu.stop)
    return entries, emu


@pytest.mark.parametrize("recorded", FILES, ids=[p.stem for p in FILES], indirect=True)
def test_replay(recorded: tuple[list[dict[str, Any]], Emulator]) -> None:
    entries, emu = recorded
    token = token_for(emu, CALLER)
    for n, e in enumerate(entries):
        where = f"entry {n}: {e['RequestMethod']} {_path(e)}"
        headers = {} if e["StatusCode"] == 401 else {"Authorization": f"Bearer {token}"}
        body = b""
        if e.get("RequestBody") is not None:
            body = json.dumps(e["RequestBody"]).encode()
            headers["Content-Type"] = "application/json"
        r = send_raw(emu, e["RequestMethod"], _path(e), hsm="recorded", headers=headers, body=body)
        assert r.status == e["StatusCode"], f"{where}: {r.status} {r.body!r}"
        sent = urlsplit(e["RequestUri"]).path
        assert emu.request_log[-1][1] == "/" + sent.lstrip("/"), where  # http.server reduces leading slashes

        recorded_headers = {k.lower(): v for k, v in e["ResponseHeaders"].items()}
        ours = r.headers
        assert ours["content-type"] == recorded_headers["content-type"], where
        assert set(recorded_headers) - set(ours) <= VOLATILE_HEADERS, where
        for name in PER_ANSWER_HEADERS:
            assert (name in ours) == (name in recorded_headers), f"{where}: {name}"
        if e["StatusCode"] == 401:
            assert CHALLENGE.match(ours["www-authenticate"]), where
            continue

        expected = e["ResponseBody"]
        got = r.json()
        if "error" in got:
            assert (
                ACTIVITY.search(got["error"]["message"]).group(0)
                == f" (Activity ID: {ours['x-ms-request-id']})"
            )
        if "/keys/" in _path(e) and "/providers/" not in _path(e):
            assert shape(got) == shape(expected), where
        else:
            assert canonical(got) == canonical(expected), where
