"""Compile the manifest's vaults: their access policies (one per principal and application) and the
choices of a move to Azure RBAC."""

from __future__ import annotations

from hsmsync.core.compile_context import CompileContext, Loc, declared_names
from hsmsync.core.compile_parts import application_problem
from hsmsync.core.desired import DesiredVault, MigrationChoices
from hsmsync.core.model_vault import Permissions, Vault, VaultMigrationOptions
from hsmsync.core.state import AccessPolicy
from hsmsync.core.vault_migration import migration_choices
from hsmsync.core.vault_permissions import MAX_ACCESS_POLICIES, normalize_permissions


class VaultCompiler(CompileContext):
    def _vault(self, name: str, vault: Vault) -> DesiredVault | None:
        loc: Loc = ("vaults", name)
        if vault.rbac and vault.access_policies:
            self.problem(
                (*loc, "access_policies"),
                "a vault with rbac: true uses Azure RBAC; access policies are ignored by the service",
            )
            return None
        if len(vault.access_policies) > MAX_ACCESS_POLICIES:
            self.problem(
                (*loc, "access_policies"),
                f"{len(vault.access_policies)} access policies; a vault holds at most {MAX_ACCESS_POLICIES}",
            )
        policies: list[AccessPolicy] = []
        for key, listed in vault.access_policies.items():
            info = self.principals.get(key)
            if info is None and key in self.m.principals:
                continue  # declared without an id: reported once, at the principal
            if info is None:
                self.problem(
                    (*loc, "access_policies", key),
                    f"undeclared principal '{key}'; declared: {declared_names(self.m.principals, key)}",
                )
                continue
            entries = (
                [(listed, (*loc, "access_policies", key))]
                if isinstance(listed, Permissions)
                else [(perms, (*loc, "access_policies", key, i)) for i, perms in enumerate(listed)]
            )
            seen: set[str | None] = set()
            for perms, where in entries:
                if perms.application in seen:
                    through = (
                        f"through application {perms.application}" if perms.application else "of its own"
                    )
                    self.problem(where, f"'{key}' has two access policies {through}; merge them into one")
                    continue
                seen.add(perms.application)
                if (wrong := application_problem(key, info.id, perms.application)) is not None:
                    self.problem((*where, "application"), wrong)
                    continue
                policy = self._policy(info.id, perms, where)
                if policy is not None:
                    policies.append(policy)
        return DesiredVault(
            name=name,
            url=vault.url.rstrip("/"),
            resource_id=vault.resource_id,
            rbac=vault.rbac,
            prune=vault.prune,
            access_policies=tuple(sorted(policies, key=lambda p: (p.object_id, p.application_id or ""))),
            migration=self._migration(loc, vault.migration),
        )

    def _policy(self, object_id: str, perms: Permissions, where: Loc) -> AccessPolicy | None:
        """One access-policy entry (a compound identity's when `perms.application` is set)."""
        lists: dict[str, tuple[str, ...]] = {}
        for kind in ("keys", "secrets", "certificates", "storage"):
            lists[kind], problems = normalize_permissions(kind, getattr(perms, kind))
            for i, message in problems:
                self.problem((*where, kind, i), message)
        if not any(lists.values()):
            self.problem(where, "an access policy needs at least one permission")
            return None
        return AccessPolicy(object_id=object_id, application_id=perms.application, **lists)

    def _migration(self, loc: Loc, spec: VaultMigrationOptions | None) -> MigrationChoices:
        if spec is None:
            return MigrationChoices()

        def unknown(key: str) -> str | None:
            """None: declared without an id (reported once, at the principal)."""
            if key in self.m.principals:
                return None
            return f"undeclared principal '{key}'; declared: {declared_names(self.m.principals, key)}"

        return migration_choices(spec, (*loc, "migration"), self.principals, unknown, self.problem)
