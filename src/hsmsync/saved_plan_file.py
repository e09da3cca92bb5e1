"""The saved-plan document (`plan --out`), validated field by field before anything trusts it.

A plan file is input like any other: it may be hand-edited, truncated or forged. Every field has
a type, ids are GUIDs, and combinations the planner never makes (an `update` of a role
assignment) are refused, so a malformed file is a clear error naming the field, never a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hsmsync.core.errors import HsmsyncError, Problem
from hsmsync.core.ids import GUID_PATTERN
from hsmsync.core.state import LiveState, RoleDefinition

FORMAT = "hsmsync saved plan"
FORMAT_VERSION = 2
_GUID_OR_EMPTY = r"^$|" + GUID_PATTERN


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SavedFieldChange(_Strict):
    path: str
    old: Any
    new: Any


class SavedChange(_Strict):
    id: str = Field(min_length=1)
    order: int = Field(ge=1)
    action: Literal["create", "update", "delete"]
    # Every `core.plan.Kind` (tests/unit/test_saved_plan_kinds.py keeps the two equal).
    kind: Literal[
        "role_definition", "role_assignment", "access_policy", "setting", "diagnostic_setting", "data_setting"
    ]
    plane: Literal["data", "management"]
    target: str = Field(min_length=1)
    scope: str
    name: str = Field(min_length=1)
    role: str
    role_id: str = Field(pattern=_GUID_OR_EMPTY)
    reason: str
    principal: str | None
    principal_id: str | None = Field(pattern=GUID_PATTERN)
    principal_type: Literal["User", "Group", "ServicePrincipal"] | None
    risks: list[str]
    definition: RoleDefinition | None = None
    payload: dict[str, Any] | None = None
    field_changes: list[SavedFieldChange] = []
    added_data_actions: list[str] = []
    removed_data_actions: list[str] = []
    condition: str | None = None
    condition_version: Literal["2.0"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SavedChange:
        if self.kind == "role_assignment":
            if self.action == "update" and self.plane == "data":
                raise ValueError(
                    "a Managed HSM role assignment is created or deleted, never updated (action: update)"
                )
            if self.action == "update" and not self.field_changes:
                raise ValueError("a role assignment update changes its condition: field_changes is empty")
            if self.principal_id is None:
                raise ValueError("a role assignment needs a principal_id")
            if not self.role_id:
                raise ValueError("a role assignment needs a role_id")
        definition_missing = self.action != "delete" and self.definition is None
        if self.kind == "role_definition" and self.plane == "data" and definition_missing:
            raise ValueError("a role definition create or update needs its definition")
        return self


class SavedUnmanaged(_Strict):
    plane: Literal["data", "management"]
    target: str
    scope: str
    name: str
    role: str
    role_id: str
    principal_id: str = Field(pattern=GUID_PATTERN)
    principal: str | None
    reason: str


class SavedManifest(_Strict):
    path: str = Field(min_length=1, description="as typed on the command line")
    sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class SavedBackend(_Strict):
    kind: Literal["state file", "live"]
    state_file: str | None = None  # absolute path of the fake state file
    endpoints: str | None = None  # absolute path of the endpoints file, None for public Azure


class SavedTarget(_Strict):
    name: str
    url: str
    resource_id: str


class SavedDiscovery(_Strict):
    """The read request (backends.base.ReadRequest) the plan was made with. Fields added to the
    request later are kept (and compared whole with the recomputed request, see saved_plan.py)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    hsms: list[SavedTarget]
    arm_scopes: list[str]
    principal_ids: list[str]
    key_scopes: dict[str, list[str]]
    full_discovery: list[str]
    vaults: list[SavedTarget]
    arm_role_scopes: list[str]


class SavedPlanDocument(_Strict):
    format: Literal["hsmsync saved plan"]
    format_version: Literal[2]
    version: Literal[1]
    tool_version: str
    manifest: SavedManifest
    backend: SavedBackend
    targets: list[str] = []  # the `--target`s it was made for; [] = every target
    discovery: SavedDiscovery
    live_fingerprint: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    live_snapshot: LiveState
    summary: dict[str, int]
    notes: list[str]
    warnings: list[str]
    refusals: list[str]
    changes: list[SavedChange]
    unmanaged: list[SavedUnmanaged]


def _problem_lines(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors()[:10]:
        where = Problem(tuple(error["loc"]), "").field
        lines.append(f"{where}: {error['msg']}")
    if len(exc.errors()) > 10:
        lines.append(f"... and {len(exc.errors()) - 10} more")
    return lines


def parse_saved_plan(text: str, display: Path) -> SavedPlanDocument:
    """Validate a plan file's text; HsmsyncError naming the file and each bad field otherwise."""
    try:
        return SavedPlanDocument.model_validate_json(text)
    except ValidationError as exc:
        if any(e["loc"][:1] in (("format",), ("format_version",)) for e in exc.errors()):
            raise HsmsyncError(
                f"{display}: not a plan saved by this version of `hsmsync plan --out` "
                f"(expected format '{FORMAT}' version {FORMAT_VERSION}); make the plan again"
            ) from None
        listing = "\n".join(f"  {line}" for line in _problem_lines(exc))
        raise HsmsyncError(f"{display}: malformed saved plan:\n{listing}") from None
