"""Key Vault access-policy permissions, as the service names them (compared case-insensitively)."""

from __future__ import annotations

import difflib

from hsmsync.core.limits import ACCESS_POLICY_LIMIT
from hsmsync.core.plan import PERMISSION_MODEL_FIELD as PERMISSION_MODEL_FIELD  # re-exported
from hsmsync.core.plan import Change, PermissionModelSubject

# azure-mgmt-keyvault's KeyPermissions, SecretPermissions, CertificatePermissions, StoragePermissions.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "keys": (
        "encrypt",
        "decrypt",
        "wrapKey",
        "unwrapKey",
        "sign",
        "verify",
        "get",
        "list",
        "create",
        "update",
        "import",
        "delete",
        "backup",
        "restore",
        "recover",
        "purge",
        "release",
        "rotate",
        "getrotationpolicy",
        "setrotationpolicy",
    ),
    "secrets": ("get", "list", "set", "delete", "backup", "restore", "recover", "purge"),
    "certificates": (
        "get",
        "list",
        "delete",
        "create",
        "import",
        "update",
        "managecontacts",
        "getissuers",
        "listissuers",
        "setissuers",
        "deleteissuers",
        "manageissuers",
        "recover",
        "purge",
        "backup",
        "restore",
    ),
    "storage": (
        "get",
        "list",
        "delete",
        "set",
        "update",
        "regeneratekey",
        "recover",
        "purge",
        "backup",
        "restore",
        "setsas",
        "listsas",
        "getsas",
        "deletesas",
    ),
}
MAX_ACCESS_POLICIES = ACCESS_POLICY_LIMIT
POLICY_KINDS = ("keys", "secrets", "certificates", "storage")

# A vault whose live permission model differs from the manifest's `rbac` is drift that hsmsync
# reports as an `update` of PERMISSION_MODEL_FIELD but `apply` never makes: switching the model
# changes who has access at once (every access policy stops, or starts, counting), so it is left to
# a deliberate migration (`hsmsync migrate --apply`: staged and verified, migration_apply.py).


def permission_model_name(rbac: bool) -> str:
    return "Azure RBAC" if rbac else "access policies"


def switches_permission_model(change: Change) -> bool:
    return isinstance(change.subject, PermissionModelSubject)


def permission_model_refusal(change: Change) -> str:
    vault = change.target.name
    return (
        f"hsmsync does not switch the permission model of vault {vault} in `apply`: move it with "
        "`hsmsync migrate` (staged, verified; to Azure RBAC), or switch it yourself once the access it "
        "needs is in place (az keyvault update --enable-rbac-authorization), or set `rbac:` in the "
        "manifest to what the vault uses"
    )


def normalize_permissions(kind: str, names: list[str]) -> tuple[tuple[str, ...], list[tuple[int, str]]]:
    """(sorted lower-cased permissions with `all` expanded, [(index, problem)])."""
    known = {p.lower() for p in PERMISSIONS[kind]}
    out: set[str] = set()
    problems: list[tuple[int, str]] = []
    for i, name in enumerate(names):
        lowered = name.strip().lower()
        if lowered == "all":
            out |= known
        elif lowered in known:
            out.add(lowered)
        else:
            close = difflib.get_close_matches(lowered, sorted(known), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            problems.append((i, f"unknown {kind} permission '{name}'{hint}"))
    return tuple(sorted(out)), problems
