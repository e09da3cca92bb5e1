"""What every step of compiling a manifest shares: the manifest, what is compiled so far, and the
problems and warnings found on the way (each step in its own module reads and adds to it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from hsmsync.core.catalog import RoleIndex
from hsmsync.core.desired import DesiredAssignment, PrincipalInfo
from hsmsync.core.errors import Problem
from hsmsync.core.listed_roles import ListedRoleRef
from hsmsync.core.model import Manifest
from hsmsync.core.names import close_names
from hsmsync.core.state import ArmRoleDefinition, RoleDefinition

Loc = tuple[str | int, ...]


def declared_names(names: Iterable[str], reference: str | None = None) -> str:
    """The declared names, for an error about `reference`; names equal to it but for case first."""
    listed = sorted(names)
    close = close_names(reference, listed) if reference is not None else []
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (", ".join(listed) if listed else "(none)") + hint


class CompileContext:
    """The compiler's state; `arm_roles` and `mgmt_index` are set once the custom Azure roles are
    compiled, before any team."""

    arm_roles: dict[str, ArmRoleDefinition]
    mgmt_index: RoleIndex

    def __init__(self, manifest: Manifest, data_read: Mapping[str, Sequence[int]]) -> None:
        self.m = manifest
        self.data_read = data_read
        self.data_indexes: dict[str, RoleIndex] = {}
        self.problems: list[Problem] = []
        self.warnings: list[str] = []  # accepted, but a reviewer should know (new data actions)
        self.listed: list[ListedRoleRef] = []
        self.principals: dict[str, PrincipalInfo] = {}
        self.custom: dict[str, dict[str, RoleDefinition]] = {h: {} for h in manifest.hsms}
        self.assignments: dict[tuple[str, ...], DesiredAssignment] = {}

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(loc, message))
