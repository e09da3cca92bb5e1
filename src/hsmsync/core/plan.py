"""The plan: an ordered, immutable list of typed changes, each with a stable id and a reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DiagnosticSetting,
    HsmSettingsPatch,
    RoleDefinition,
)
from hsmsync.core.target import Target


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Kind(StrEnum):
    ROLE_DEFINITION = "role_definition"
    ROLE_ASSIGNMENT = "role_assignment"
    ACCESS_POLICY = "access_policy"
    SETTING = "setting"
    DIAGNOSTIC_SETTING = "diagnostic_setting"


class Plane(StrEnum):
    DATA = "data"
    MANAGEMENT = "management"


# Make before break: nobody loses access mid-apply that they keep after it. Resource settings
# come last: disabling public network access can cut off the runner that applies the rest.
PHASES: dict[tuple[Action, Kind], int] = {
    (Action.CREATE, Kind.ROLE_DEFINITION): 1,
    (Action.UPDATE, Kind.ROLE_DEFINITION): 1,
    (Action.CREATE, Kind.ROLE_ASSIGNMENT): 2,
    (Action.CREATE, Kind.ACCESS_POLICY): 2,
    (Action.UPDATE, Kind.ACCESS_POLICY): 2,
    (Action.CREATE, Kind.DIAGNOSTIC_SETTING): 2,
    (Action.UPDATE, Kind.DIAGNOSTIC_SETTING): 2,
    (Action.DELETE, Kind.ROLE_ASSIGNMENT): 3,
    (Action.DELETE, Kind.ACCESS_POLICY): 3,
    (Action.DELETE, Kind.ROLE_DEFINITION): 4,
    (Action.UPDATE, Kind.SETTING): 5,
}

Payload = ArmRoleDefinition | AccessPolicy | DiagnosticSetting | HsmSettingsPatch


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class Change:
    """One create/update/delete: a role definition or assignment, an access policy, a setting."""

    id: str
    action: Action
    kind: Kind
    plane: Plane
    target: Target
    scope: str
    name: str
    role: str
    role_id: str
    reason: str
    principal: str | None = None
    principal_id: str | None = None
    principal_type: str | None = None
    definition: RoleDefinition | None = None
    payload: Payload | None = None  # the desired object, for the kinds beyond data-plane RBAC
    field_changes: tuple[FieldChange, ...] = ()
    added_data_actions: tuple[str, ...] = ()
    removed_data_actions: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()

    @property
    def phase(self) -> int:
        return PHASES[(self.action, self.kind)]

    def to_dict(self, order: int) -> dict[str, Any]:
        """The change as the plan JSON writes it; `order` is its 1-based position in its plan."""
        out: dict[str, Any] = {
            "id": self.id,
            "order": order,
            "action": self.action.value,
            "kind": self.kind.value,
            **_where_and_who(self),
            "principal_type": self.principal_type,
            "reason": self.reason,
            "risks": list(self.risks),
        }
        if self.definition is not None:
            out["definition"] = self.definition.model_dump(mode="json")
        if self.payload is not None:
            out["payload"] = self.payload.model_dump(mode="json", exclude_none=True)
        if self.field_changes:
            out["field_changes"] = [{"path": f.path, "old": f.old, "new": f.new} for f in self.field_changes]
        if self.added_data_actions or self.removed_data_actions:
            out["added_data_actions"] = list(self.added_data_actions)
            out["removed_data_actions"] = list(self.removed_data_actions)
        return out


@dataclass(frozen=True, slots=True)
class UnmanagedItem:
    """Something live that the manifest does not declare and that this plan leaves alone."""

    plane: Plane
    target: Target
    scope: str
    name: str
    role: str
    role_id: str
    principal_id: str
    principal: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**_where_and_who(self), "reason": self.reason}


def _where_and_who(item: Change | UnmanagedItem) -> dict[str, Any]:
    """The plan JSON fields a change and an unmanaged item share, in the plan JSON's order."""
    return {
        "plane": item.plane.value,
        "target": item.target.key,
        "scope": item.scope,
        "name": item.name,
        "role": item.role,
        "role_id": item.role_id,
        "principal": item.principal,
        "principal_id": item.principal_id,
    }


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...]
    unmanaged: tuple[UnmanagedItem, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    live_fingerprint: str = ""
    refusals: tuple[str, ...] = ()  # what the service would refuse: the plan must not be applied

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def numbered(self) -> Iterator[tuple[int, Change]]:
        """(order, change): a change's order is its 1-based position in the plan, nothing else."""
        return enumerate(self.changes, start=1)

    def summary(self) -> dict[str, int]:
        counts = Counter(c.action.value for c in self.changes)
        return {
            "create": counts["create"],
            "update": counts["update"],
            "delete": counts["delete"],
            "unmanaged": len(self.unmanaged),
            "total": len(self.changes),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "live_fingerprint": self.live_fingerprint,
            "summary": self.summary(),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "refusals": list(self.refusals),
            "changes": [c.to_dict(order) for order, c in self.numbered()],
            "unmanaged": [u.to_dict() for u in self.unmanaged],
        }
