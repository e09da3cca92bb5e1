"""`hsmsync migrate --apply`: move reviewed vaults from access policies to Azure RBAC in stages,
each verified before the next.

  0. check: every identity of the live access policies keeps its access through the manifest's
     Azure role assignments (a loss not accepted in the manifest refuses the migration);
  1. create the manifest's role assignments (and custom roles) for the vault, then wait until
     they are in effect: read back until every identity's assignments give its access, then
     `settle_seconds` more (Azure takes minutes to honour a new assignment on the data plane);
  2. check the access policies read now once more (an entry added during stage 1 was never
     checked; stage 4 checks again), and that the executor may switch the permission model:
     Microsoft.KeyVault/vaults/write and Microsoft.Authorization/roleAssignments/write at the
     vault (read from its role assignments);
  3. switch `enableRbacAuthorization` on;
  4. verify: the vault reads back as Azure RBAC and every identity's live assignments give its
     access. This reads the assignments and evaluates their roles' data actions; the executor
     cannot call the data plane as another identity (on the emulator the tests do, as each one);
  5. only then remove the old access policies.

Any failure stops the run and says how to roll back (switching back is safe until stage 5: the
access policies are still there). What each check asks of the desired and live state is
migration_checks.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from hsmsync.backends.base import ReadRequest, StateBackend
from hsmsync.backends.registry import read_request_for
from hsmsync.core.catalog import management_role_map
from hsmsync.core.desired import DesiredState, DesiredVault
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.guard import Caller
from hsmsync.core.plan import Action, Change, Kind, Plane
from hsmsync.core.planner import plan_changes
from hsmsync.core.state import LiveState
from hsmsync.core.vault_migration import (
    NO_RBAC_EQUIVALENT,
    VaultMigration,
    at_or_above,
    permission_list,
)
from hsmsync.migration_checks import SWITCH_RIGHTS, as_declared, executor_lacks, live_granted, missing_access

Say = Callable[[str], None]


@runtime_checkable
class PermissionModelSwitch(Protocol):
    def switch_vault_permission_model(self, name: str, resource_id: str, rbac: bool) -> None: ...


@dataclass(frozen=True)
class MigrationRun:
    desired: DesiredState
    backend: StateBackend
    caller: Caller | None
    say: Say
    wait_seconds: float = 300.0
    poll_seconds: float = 5.0
    settle_seconds: float = 0.0  # after the assignments read back, before the switch (propagation)


def migration_request(
    desired: DesiredState, vaults: Iterable[DesiredVault], caller: Caller | None
) -> ReadRequest:
    """The manifest's request, plus each vault's scope and the assignments inherited from above it
    (the executor's Owner at the subscription counts), and the executor's own assignments."""
    base = read_request_for(desired)
    scopes = tuple(dict.fromkeys([*base.arm_scopes, *(v.resource_id for v in vaults)]))
    ids = [*base.principal_ids]
    if caller is not None:
        ids += [caller.object_id, *caller.group_ids, *caller.arm_only_group_ids]
    return replace(base, arm_scopes=scopes, principal_ids=tuple(dict.fromkeys(ids)), arm_inherited=True)


def pending(desired: DesiredState, live: LiveState) -> list[DesiredVault]:
    """Vaults the manifest wants on Azure RBAC that still use access policies, or still hold them
    (a run that stopped at stage 5: it resumes there)."""
    return [
        v
        for v in desired.vaults.values()
        if v.rbac
        and (lv := live.vaults.get(v.name))
        and (not lv.enable_rbac_authorization or lv.access_policies)
    ]


def _described(c: Change) -> str:
    """`create role assignment Reader for auditor at /subscriptions/...`."""
    who = f" for {c.principal}" if c.principal else ""
    where = f" at {c.scope}" if c.kind is Kind.ROLE_ASSIGNMENT else ""
    return f"{c.action.value} {c.kind.value.replace('_', ' ')} {c.role}{who}{where}"


class Migrator:
    """Runs the stages for one vault; raises HsmsyncError (with the way back) on any failure."""

    def __init__(self, run: MigrationRun, vault: DesiredVault) -> None:
        self.run = run
        self.vault = vault
        self.request = migration_request(run.desired, [vault], run.caller)
        self.created: list[Change] = []  # stage 1's role changes made so far, for the way back

    def _read(self) -> LiveState:
        return self.run.backend.read_state(self.request)

    def _fail(self, stage: int, problem: str) -> HsmsyncError:
        v = self.vault
        rg = v.resource_id.split("/")[4] if len(v.resource_id.split("/")) > 4 else "<resource group>"
        name = v.resource_id.rstrip("/").rsplit("/", 1)[-1]
        if stage <= 2:
            back = self._not_switched()
        elif stage <= 4:
            back = (
                f"roll back now: `hsmsync migrate --rollback {v.name}` (or `az keyvault update --name {name} "
                f"--resource-group {rg} --enable-rbac-authorization false`); the access policies are "
                "still there and count again at once"
            )
        else:
            back = (
                "the vault runs on Azure RBAC; the access policies left are inert: run migrate --apply again"
            )
        return HsmsyncError(f"vault {v.name}: stage {stage} failed: {problem}\n  {back}")

    def _not_switched(self) -> str:
        """The way back before the switch, true of data- and management-plane roles alike: the
        vault ignores Azure RBAC data actions while on access policies, but a role's control-plane
        actions are in force as soon as it is assigned."""
        if not self.created:
            return (
                "nothing was switched and no role assignment was created: "
                "the vault still uses its access policies"
            )
        roles = management_role_map(self.run.desired.arm_roles)
        made = []
        for c in self.created:
            if c.kind is not Kind.ROLE_ASSIGNMENT:
                made.append(f"{_described(c)} (a role definition grants nothing by itself)")
                continue
            role = roles.get(c.role_id.lower())
            actions = sorted({a for b in role.permissions for a in b.actions}) if role else []
            grants = (
                f"control-plane actions in force now: {', '.join(actions)}"
                if actions
                else "no control-plane actions"
            )
            made.append(f"{_described(c)} ({grants if role else 'a role hsmsync does not know'})")
        return (
            "nothing was switched: the vault still uses its access policies, so the data actions of the "
            f"{len(self.created)} Azure role change(s) made so far do not reach it yet; their control-plane "
            "actions apply now, whatever the vault's permission model: " + "; ".join(made) + ". Run migrate "
            "--apply again to go on, or delete these assignments to undo them"
        )

    def check(self, live: LiveState, stage: int = 0) -> VaultMigration:
        """The migration of the access policies `live` holds; refused when it loses what the manifest
        does not accept. Run again on every later read (stage > 0): an entry added while the run
        waits was never checked, and switching or removing would drop it unseen."""
        migration = as_declared(self.run.desired, live, self.vault)
        if migration.refused:
            listing = "; ".join(f"{i.label}: {permission_list(i.refused_loss)}" for i in migration.refused)
            lines = "; ".join(i.acceptance for i in migration.refused)
            problem = (
                f"the manifest's Azure role assignments would take away {listing}. Assign roles that give "
                f"it, or accept the loss under vaults.{self.vault.name}.migration.accept_loss ({lines})"
            )
            if stage == 0:
                raise HsmsyncError(f"vault {self.vault.name}: refused: {problem}")
            raise self._fail(stage, f"the access policies changed during the run: {problem}")
        return migration

    def _check_executor(self, live: LiveState, stage: int) -> None:
        caller = self.run.caller
        if caller is None:
            raise self._fail(stage, "the executor is unknown, so its rights cannot be checked: give --caller")
        lacking = executor_lacks(live, caller, self.vault.resource_id)
        if lacking:
            raise self._fail(
                stage, f"the executor {caller.object_id} lacks {', '.join(lacking)} at the vault"
            )

    def _changes(self, live: LiveState) -> tuple[list[Change], list[Change]]:
        """(the vault's, the others): creates and updates of the manifest's Azure role assignments
        at the vault or below it, and the custom roles they use; then every other pending Azure
        role change, which stage 1 leaves to `hsmsync apply` (a subscription's or another vault's
        assignments, and any delete, are not this migration's to make)."""
        plan = plan_changes(self.run.desired, live)
        rid = self.vault.resource_id
        assigned_roles = {
            a.role_id.lower()
            for a in self.run.desired.assignments
            if a.plane is Plane.MANAGEMENT and at_or_above(rid, a.scope)
        }
        mine, others = [], []
        for c in plan.changes:
            if c.plane is not Plane.MANAGEMENT or c.kind not in (Kind.ROLE_ASSIGNMENT, Kind.ROLE_DEFINITION):
                continue  # the vault's permission model and policies are stages 3 and 5
            at_vault = c.kind is Kind.ROLE_ASSIGNMENT and at_or_above(rid, c.scope)
            used = c.kind is Kind.ROLE_DEFINITION and c.name.lower() in assigned_roles
            if (at_vault or used) and c.action is not Action.DELETE:
                mine.append(c)
            else:
                others.append(c)
        return mine, others

    def _wait_in_effect(self, migration: VaultMigration, others: list[Change]) -> LiveState:
        deadline = time.monotonic() + self.run.wait_seconds
        while True:
            live = self._read()
            missing = missing_access(migration, live_granted(live, self.vault.resource_id))
            if not missing:
                return live
            if time.monotonic() >= deadline:
                left = (
                    f" (if they rely on the {len(others)} pending change(s) outside the vault that "
                    "stage 1 left alone, run `hsmsync apply` for those first)"
                    if others
                    else ""
                )
                raise self._fail(
                    1,
                    f"assignments not in effect after {self.run.wait_seconds:g}s: {'; '.join(missing)}{left}",
                )
            time.sleep(self.run.poll_seconds)

    def migrate(self) -> None:
        say, v = self.run.say, self.vault
        switch = self.run.backend
        if not isinstance(switch, PermissionModelSwitch):
            raise HsmsyncError(f"vault {v.name}: this backend cannot switch a vault's permission model")
        say(
            f"vault {v.name}: the executor needs {' and '.join(SWITCH_RIGHTS)} at {v.resource_id} "
            "(Owner, or User Access Administrator with Key Vault Contributor)"
        )
        live = self._read()
        migration = self.check(live)
        for i in migration.identities:
            extra = f"; gains {permission_list(i.gained)}" if i.gained else ""
            extra += f"; loses (accepted) {permission_list(i.lost)}" if i.lost else ""
            if i.application_id:
                say(f"  {i.label}: {NO_RBAC_EQUIVALENT} (accepted): {permission_list(i.lost)}")
                continue
            say(f"  {i.label}: keeps {permission_list(i.equivalent)}{extra}")
        if live.vaults[v.name].enable_rbac_authorization:
            say(f"vault {v.name}: on Azure RBAC, its old access policies still there: resuming at stage 4")
            self._verify_and_remove(migration)
            return
        self._check_executor(live, 0)
        changes, others = self._changes(live)
        if others:
            say(
                f"stage 1/5: left alone {len(others)} pending change(s) outside vault {v.name} "
                "(run `hsmsync apply` for them): " + "; ".join(_described(c) for c in others)
            )
        try:
            for change in changes:
                self.run.backend.apply_change(change)
                self.created.append(change)
        except HsmsyncError as exc:
            raise self._fail(1, str(exc)) from None
        live = self._wait_in_effect(migration, others)
        say(
            f"stage 1/5: {len(changes)} Azure role change(s) made; every identity's assignments are in effect"
        )
        if self.run.settle_seconds > 0:
            # Reading an assignment back does not mean the data plane honours it yet (Azure: minutes).
            say(f"         waiting {self.run.settle_seconds:g}s for them to reach the data plane (--settle)")
            time.sleep(self.run.settle_seconds)
            live = self._read()
        self._check_executor(live, 2)
        migration = self.check(live, 2)
        say("stage 2/5: the executor may switch the permission model")
        try:
            switch.switch_vault_permission_model(v.name, v.resource_id, True)
        except HsmsyncError as exc:
            raise self._fail(3, str(exc)) from None
        say("stage 3/5: enableRbacAuthorization is on: the access policies no longer count")
        self._verify_and_remove(migration)

    def _verify_and_remove(self, migration: VaultMigration) -> None:
        """Stages 4 and 5: the vault reads back on Azure RBAC with every identity's access, then
        the old access policies go."""
        say, v = self.run.say, self.vault
        try:
            live = self._read()
        except HsmsyncError as exc:
            raise self._fail(4, str(exc)) from None
        if not live.vaults[v.name].enable_rbac_authorization:
            raise self._fail(4, "the vault does not read back as Azure RBAC")
        migration = self.check(live, 4)
        missing = missing_access(migration, live_granted(live, v.resource_id))
        if missing:
            raise self._fail(4, f"access not given by the live assignments: {'; '.join(missing)}")
        lost = sum(1 for i in migration.identities if i.application_id)
        kept = len(migration.identities) - lost
        say(
            f"stage 4/5: verified: the live role assignments give all {kept} identities their access"
            + (
                f"; {lost} compound identit{'y' if lost == 1 else 'ies'} lost as accepted "
                "(no Azure RBAC equivalent)"
                if lost
                else ""
            )
        )
        self._remove_policies(live)
        say(f"stage 5/5: the old access policies are removed; vault {v.name} is on Azure RBAC")

    def _remove_policies(self, live: LiveState) -> None:
        cleared = replace(self.vault, rbac=False, prune=True, access_policies=())
        desired = replace(self.run.desired, vaults={self.vault.name: cleared})
        deletes = [
            c
            for c in plan_changes(desired, live).changes
            if c.kind is Kind.ACCESS_POLICY and c.action is Action.DELETE and c.target.name == self.vault.name
        ]
        try:
            for change in deletes:
                self.run.backend.apply_change(change)
            left = self._read().vaults[self.vault.name].access_policies
        except HsmsyncError as exc:
            raise self._fail(5, str(exc)) from None
        if left:
            raise self._fail(5, f"{len(left)} access policies remain")

    def rollback(self) -> None:
        switch = self.run.backend
        if not isinstance(switch, PermissionModelSwitch):
            raise HsmsyncError(
                f"vault {self.vault.name}: this backend cannot switch a vault's permission model"
            )
        live = self._read().vaults[self.vault.name]
        if not live.access_policies:
            raise HsmsyncError(
                f"vault {self.vault.name}: it has no access policies left: switching back would leave "
                "nobody with data access; restore the policies first"
            )
        switch.switch_vault_permission_model(self.vault.name, self.vault.resource_id, False)
        self.run.say(f"vault {self.vault.name}: back on its {len(live.access_policies)} access policies")
