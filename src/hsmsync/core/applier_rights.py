"""The rights the applying identity needs to apply a manifest and to plan it again.

Derived from the calls the backends make (backends/azure/dataplane.py, management.py,
resources_*.py), per target the manifest manages:

- every HSM: list role definitions (roleDefinitions/read) and role assignments
  (roleAssignments/read) at '/', and write and delete assignments there (roleAssignments/write,
  /delete) to keep managing access; with custom roles, write and delete definitions too;
- a pruning HSM (full discovery): list keys (keys/read at /keys), or the next plan fails;
- an HSM with `data_settings`: settings/read and settings/write at '/';
- ARM scopes with assignments: Microsoft.Authorization/roleAssignments/read|write|delete;
- an HSM resource: Microsoft.KeyVault/managedHSMs/read (settings, initial administrators), /write
  when it manages settings, Microsoft.Insights/diagnosticSettings/read|write|delete with logging;
- vaults: Microsoft.KeyVault/vaults/read and vaults/accessPolicies/write;
- custom Azure roles: Microsoft.Authorization/roleDefinitions/read|write|delete where assignable.

The lockout guard refuses a plan that takes any of them away from the applier (see guard.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from hsmsync.core.catalog import DATA_ACTION_PREFIX
from hsmsync.core.desired import DesiredState
from hsmsync.core.plan import Plane
from hsmsync.core.scopes import arm_scope_key

_ASSIGNMENTS = tuple(f"roleAssignments/{v}/action" for v in ("read", "write", "delete"))
_DEFINITIONS = ("roleDefinitions/write/action", "roleDefinitions/delete/action")
ARM_ASSIGNMENTS = tuple(f"Microsoft.Authorization/roleAssignments/{v}" for v in ("read", "write", "delete"))
ARM_DEFINITIONS = tuple(f"Microsoft.Authorization/roleDefinitions/{v}" for v in ("read", "write", "delete"))
DIAGNOSTICS = tuple(f"Microsoft.Insights/diagnosticSettings/{v}" for v in ("read", "write", "delete"))


@dataclass(frozen=True, slots=True)
class Right:
    """One action the applier needs at one scope: an HSM's data plane or an ARM scope."""

    plane: Plane
    target: str  # HSM name, or "arm"
    action: str  # in the service's spelling
    scope: str  # '/', '/keys' (data plane) or an ARM resource id
    why: str
    # roleAssignments/write|delete in Azure RBAC: the roles hsmsync assigns there, what a role-
    # assignment condition (e.g. Key Vault Data Access Administrator's) is evaluated against
    role_ids: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        return self.action.removeprefix(DATA_ACTION_PREFIX)


def _data(hsm: str, short: str, scope: str, why: str) -> Right:
    return Right(Plane.DATA, hsm, DATA_ACTION_PREFIX + short, scope, why)


def _arm(action: str, scope: str, why: str, role_ids: tuple[str, ...] = ()) -> Right:
    return Right(Plane.MANAGEMENT, "arm", action, scope, why, role_ids)


def _roles_at(desired: DesiredState, scope: str) -> tuple[str, ...]:
    """The Azure roles the manifest assigns at `scope`: what hsmsync writes and deletes there."""
    wanted = arm_scope_key(scope)
    return tuple(
        sorted(
            {
                a.role_id
                for a in desired.assignments
                if a.plane is Plane.MANAGEMENT and arm_scope_key(a.scope) == wanted
            }
        )
    )


def rights_to_keep(desired: DesiredState) -> tuple[Right, ...]:
    out: list[Right] = []
    for hsm in desired.hsms.values():
        out.append(_data(hsm.name, "roleDefinitions/read/action", "/", "to discover its role definitions"))
        out += [_data(hsm.name, a, "/", "to discover and manage its role assignments") for a in _ASSIGNMENTS]
        if hsm.custom_roles:
            out += [_data(hsm.name, a, "/", "to manage its custom roles") for a in _DEFINITIONS]
        if hsm.prune:
            out.append(_data(hsm.name, "keys/read/action", "/keys", "to list keys (it prunes)"))
        if hsm.data_settings is not None:
            out += [
                _data(hsm.name, f"settings/{verb}/action", "/", "to manage its data-plane settings")
                for verb in ("read", "write")
            ]
        if hsm.resource_id:
            out.append(_arm("Microsoft.KeyVault/managedHSMs/read", hsm.resource_id, f"to read {hsm.name}"))
            if hsm.settings is not None:
                what = f"to manage {hsm.name}'s settings"
                out.append(_arm("Microsoft.KeyVault/managedHSMs/write", hsm.resource_id, what))
            if hsm.logging is not None:
                out += [_arm(a, hsm.resource_id, f"to manage {hsm.name}'s logging") for a in DIAGNOSTICS]
    for scope in desired.arm_scopes:
        roles = _roles_at(desired, scope)
        out += [_arm(a, scope, "to manage Azure role assignments", roles) for a in ARM_ASSIGNMENTS]
    for vault in desired.vaults.values():
        out.append(_arm("Microsoft.KeyVault/vaults/read", vault.resource_id, f"to read vault {vault.name}"))
        if not vault.rbac:
            why = f"to manage vault {vault.name}'s access policies"
            out.append(_arm("Microsoft.KeyVault/vaults/accessPolicies/write", vault.resource_id, why))
    for scope in dict.fromkeys(s for r in desired.arm_roles for s in r.assignable_scopes):
        out += [_arm(a, scope, "to manage custom Azure roles") for a in ARM_DEFINITIONS]
    return tuple(dict.fromkeys(out))
