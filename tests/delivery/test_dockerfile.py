"""The Dockerfile, checked statically: there is no Docker daemon (nor registry access for the base
image) on the machines that run this suite, so the image itself is not built here. What the image
does is proven by test_packaging (the wheel builds, carries the command and runs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import REPO


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def stages(parsed: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for op, args in parsed:
        if op == "FROM":
            out.append([])
        if out:
            out[-1].append((op, args))
    return out


DOCKERFILE = instructions(REPO / "Dockerfile")
BUILD, FINAL = stages(DOCKERFILE)


def test_builds_the_wheel_in_a_first_stage_from_slim_python():
    assert ("ARG", "PYTHON_IMAGE=python:3.12-slim") in DOCKERFILE
    assert BUILD[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert any(op == "RUN" and "pip wheel" in args and "--no-deps" in args for op, args in BUILD)
    assert FINAL[0] == ("FROM", "${PYTHON_IMAGE}")


def test_final_stage_installs_only_the_wheel():
    copies = [args for op, args in FINAL if op == "COPY"]
    assert copies == ["--from=build /wheels /tmp/wheels"], "no source tree in the image"
    (install,) = [args for op, args in FINAL if op == "RUN"]
    assert "pip install /tmp/wheels/hsmsync-*.whl" in install and "rm -rf /tmp/wheels" in install
    assert not any(op == "ADD" for op, _ in DOCKERFILE)


def test_runs_as_a_non_root_user_with_hsmsync_as_entrypoint():
    ops = [op for op, _ in FINAL]
    users = [args for op, args in FINAL if op == "USER"]
    assert users and ops.index("USER") < ops.index("ENTRYPOINT")
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    (run,) = [args for op, args in FINAL if op == "RUN"]
    assert re.search(rf"useradd .*--uid {uid} ", run)
    (entrypoint,) = [args for op, args in FINAL if op == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["hsmsync"]


def test_no_secret_is_baked_in_and_the_context_is_small():
    env = " ".join(args for op, args in DOCKERFILE if op in ("ENV", "ARG"))
    assert not re.search(r"TOKEN|SECRET|PASSWORD|AZURE_CLIENT", env, re.IGNORECASE)
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:1] == ["*"] and "!src/" in ignore
