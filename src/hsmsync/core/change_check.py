"""What every backend checks before it carries out a change: the same rules for all of them.

The planner only makes the (action, kind) pairs of `PHASES`, each with the fields it needs. A
change from elsewhere (a saved plan someone edited) may not be one of them: `update` of a role
assignment, say, which one backend would have run as a delete and another as a create. Every
backend refuses such a change with the same clear error instead of guessing what it means.
"""

from __future__ import annotations

from hsmsync.core.errors import BackendError
from hsmsync.core.plan import PHASES, Action, Change, Kind, Plane
from hsmsync.core.state import (
    AccessPolicy,
    ArmRoleDefinition,
    DataSetting,
    DiagnosticSetting,
    HsmSettingsPatch,
)

_PAYLOADS: dict[Kind, type] = {
    Kind.ACCESS_POLICY: AccessPolicy,
    Kind.SETTING: HsmSettingsPatch,
    Kind.DIAGNOSTIC_SETTING: DiagnosticSetting,
    Kind.DATA_SETTING: DataSetting,
}


def _kind_text(kind: Kind) -> str:
    return kind.value.replace("_", " ")


def check_applicable(change: Change) -> None:
    """Raise BackendError (naming the change, the action and what is missing) unless the change is
    one the backends know how to carry out."""
    if (change.action, change.kind) not in PHASES:
        allowed = sorted(a.value for a, k in PHASES if k is change.kind)
        raise BackendError(
            f"change {change.id}: cannot {change.action.value} a {_kind_text(change.kind)} "
            f"(a {_kind_text(change.kind)} is only ever {' or '.join(f'{a}d' for a in allowed)}); "
            "plans made by hsmsync never contain this"
        )
    if change.kind is Kind.ROLE_ASSIGNMENT and change.action is Action.UPDATE and change.plane is Plane.DATA:
        raise BackendError(
            f"change {change.id}: cannot update a Managed HSM role assignment (it is only ever created "
            "or deleted; only an Azure role assignment's condition is updated); "
            "plans made by hsmsync never contain this"
        )
    missing = _missing(change)
    if missing:
        raise BackendError(
            f"change {change.id}: {change.action.value} {_kind_text(change.kind)} without {missing}"
        )


def _missing(change: Change) -> str | None:
    if change.kind is Kind.ROLE_ASSIGNMENT:
        return None if change.principal_id else "a principal id"
    if change.action is Action.DELETE:
        return None
    if change.kind is Kind.ROLE_DEFINITION:
        if change.plane is Plane.DATA:
            return None if change.definition is not None else "the role definition"
        return None if isinstance(change.payload, ArmRoleDefinition) else "the Azure role definition"
    expected = _PAYLOADS[change.kind]
    return None if isinstance(change.payload, expected) else f"its {_kind_text(change.kind)} payload"
