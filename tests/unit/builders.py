"""Literal desired and live states for planner tests."""

from __future__ import annotations

from typing import Any

from hsmsync.core.compile import compile_manifest
from hsmsync.core.desired import DesiredState
from hsmsync.core.model import Manifest
from hsmsync.core.state import (
    ArmRoleAssignment,
    ArmState,
    DataRoleAssignment,
    HsmState,
    LiveState,
    RoleDefinition,
)

SUB = "11111111-2222-3333-4444-555555555555"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
ALICE = "aaaaaaaa-0000-0000-0000-000000000001"
BOB = "bbbbbbbb-0000-0000-0000-000000000002"
TEAM = "cccccccc-0000-0000-0000-000000000003"
INITIAL_ADMIN = "dddddddd-0000-0000-0000-000000000004"
ADMIN = "a290e904-7015-4bba-90c8-60543313cdb4"
CRYPTO_USER = "21dbd100-6940-42c2-9190-5d6cb909625b"
AUDITOR = "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3"
URL = "https://h1.managedhsm.azure.net"
RID = f"{RG}/providers/Microsoft.KeyVault/managedHSMs/h1"


def manifest(
    *,
    prune: bool = True,
    teams: dict[str, Any] | None = None,
    roles: dict[str, Any] | None = None,
    mgmt_prune: bool = False,
    arm_roles: dict[str, Any] | None = None,
) -> DesiredState:
    doc = {
        "version": 1,
        "principals": {
            "alice": {"type": "User", "id": ALICE},
            "bob": {"type": "ServicePrincipal", "id": BOB},
            "team": {"type": "Group", "id": TEAM, "name": "The Team"},
        },
        "hsms": {"h1": {"url": URL, "resource_id": RID, "prune": prune}},
        "roles": roles or {},
        "teams": teams or {},
        "management": {"prune": mgmt_prune},
        "arm_roles": arm_roles or {},
    }
    return compile_manifest(Manifest.model_validate(doc))


def assignment(name_suffix: int, scope: str, role: str, principal: str) -> DataRoleAssignment:
    return DataRoleAssignment(
        name=f"00000000-0000-0000-0000-{name_suffix:012d}",
        scope=scope,
        role_definition_id=role,
        principal_id=principal,
    )


def live(
    *assignments: DataRoleAssignment,
    roles: tuple[RoleDefinition, ...] = (),
    arm: tuple[ArmRoleAssignment, ...] = (),
) -> LiveState:
    hsm = HsmState(
        url=URL,
        resource_id=RID,
        initial_admin_object_ids=(INITIAL_ADMIN,),
        role_assignments=assignments,
        role_definitions=roles,
    )
    return LiveState(hsms={"h1": hsm}, arm=ArmState(role_assignments=arm))
