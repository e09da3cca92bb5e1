"""Models of the plan, drift and lint JSON outputs, for their published JSON Schemas.

The renderers build plain dictionaries; these models only describe them (`hsmsync schema plan`,
`make schemas`), and a test validates real outputs against the generated schemas, so the two
cannot drift apart. Objects are closed (`additionalProperties: false`) so a test notices a new
field; consumers should ignore fields they do not know (see render/contract.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hsmsync.core.capabilities import Capability
from hsmsync.saved_plan_file import SavedChange as ChangeOut  # a change as Change.to_dict() writes it
from hsmsync.saved_plan_file import SavedUnmanaged as UnmanagedOut


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Envelope(_Out):
    format_version: Literal[1] = Field(description="Bumped only when a field is removed or changes meaning")
    hsmsync_version: str
    version: Literal[1] = Field(description="Kept for readers of hsmsync before format_version")


class PlanSummary(_Out):
    create: int
    update: int
    delete: int
    unmanaged: int
    total: int


class PlaceOut(_Out):
    hsm: str
    scope: str


class AccessGroupOut(_Out):
    change: Literal["gained", "lost"]
    principals: list[str] = Field(description="manifest keys, or object ids the manifest does not name")
    capability: Capability
    ability: str = Field(description="the capability with exactly the actions gained or lost, in words")
    actions: list[str]
    places: list[PlaceOut]
    sentence: str


class LintSummary(_Out):
    error: int
    warning: int
    note: int
    suppressed: int


class FindingOut(_Out):
    rule: str
    name: str
    severity: Literal["error", "warning", "note"]
    target: str
    message: str
    fix: str
    field: str = Field(description="where in the manifest, e.g. principals.app-vm")
    line: int | None = Field(None, description="line in the manifest (lint output only)")
    file: str | None = Field(None, description="the file the line is in, when -f names a directory (lint)")


class SuppressedOut(FindingOut):
    justification: str


class PlanLint(_Out):
    summary: LintSummary
    findings: list[FindingOut]


class PlanOutput(_Envelope):
    """`hsmsync plan --format json`"""

    kind: Literal["plan"]
    backend: str
    live_fingerprint: str
    summary: PlanSummary
    notes: list[str]
    warnings: list[str]
    refusals: list[str]
    changes: list[ChangeOut]
    unmanaged: list[UnmanagedOut]
    access_delta: list[AccessGroupOut]
    lint: PlanLint


class DriftSummary(_Out):
    drifted: int
    unmanaged: int
    unmanaged_lint_errors: int


class LintHitOut(_Out):
    rule: str
    message: str


class FlaggedUnmanagedOut(UnmanagedOut):
    """An unmanaged item that an unsuppressed lint error is about: it counts as drift."""

    lint: list[LintHitOut]


class DriftOutput(_Envelope):
    """`hsmsync drift --format json` and `--report`"""

    kind: Literal["drift"]
    backend: str
    in_sync: bool
    failed: bool
    fail_on: Literal["drift", "unmanaged", "any"]
    live_fingerprint: str
    summary: DriftSummary
    warnings: list[str] = Field(description="what could not be read, so the report may show less")
    drifted: list[ChangeOut]
    unmanaged_lint_errors: list[FlaggedUnmanagedOut]
    unmanaged: list[UnmanagedOut]


class LintOutput(_Envelope):
    """`hsmsync lint --format json`"""

    kind: Literal["lint"]
    file: str
    exit_code: Literal[0, 1]
    summary: LintSummary
    findings: list[FindingOut]
    suppressed: list[SuppressedOut]


OUTPUT_MODELS: dict[str, type[BaseModel]] = {"plan": PlanOutput, "drift": DriftOutput, "lint": LintOutput}


def output_schema(kind: str) -> dict[str, Any]:
    schema = OUTPUT_MODELS[kind].model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"hsmsync {kind} output"
    return schema
