"""Scope syntax for both planes.

A scope is accepted only in its one canonical form and is then used exactly as written: what the
plan shows is what is sent. Nothing is trimmed, resolved or widened; a scope that is not canonical
(blank, extra or trailing '/', whitespace, '.' or '..' segments) is an error that shows the fix
where one is evident.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

KEY_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")  # the service's rule for a key's name (the emulator's too)
_ARM_SCOPE = re.compile(
    r"(?ix)^/(?:"
    r"providers/Microsoft\.Management/managementGroups/[^/]+"
    r"|subscriptions/[^/]+(?:/resourceGroups/[^/]+(?:/providers/[^/]+/[^/]+/[^/]+(?:/[^/]+/[^/]+)*)?)?"
    r")$"
)
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$")
_BAD_SEGMENT_CHARS = set("?#%\\\"'<>")
_DATA_SCOPES = "'/' (the whole HSM), '/keys' (every key) or '/keys/<key-name>'"
_ARM_SCOPES = (
    "/providers/Microsoft.Management/managementGroups/<id>, /subscriptions/<id>, "
    "/subscriptions/<id>/resourceGroups/<name> or a resource id under a resource group"
)
# Below a Key Vault, Azure RBAC assigns at one key, secret or certificate (never a version).
VAULT_OBJECT_TYPES = ("keys", "secrets", "certificates")
VAULT_SHORTHAND = "vault:"
_VAULT_OBJECTS = "/keys/<name>, /secrets/<name> or /certificates/<name>"
_SHORTHAND = re.compile(r"^vault:(?P<vault>[^/]+)(?:/(?P<type>[^/]+)/(?P<object>[^/]+))?$")


def _data_scope_error(scope: str) -> str | None:
    if scope in ("/", "/keys"):
        return None
    if scope.startswith("/keys/"):
        key = scope[len("/keys/") :]
        if KEY_NAME.match(key):
            return None
        if key and key == key.strip() and "/" not in key:
            return f"'{key}' is not a valid key name (letters, digits and '-', at most 127)"
    if not scope.strip():
        return f"a blank scope is not allowed; write {_DATA_SCOPES}"
    parts = [p for p in scope.strip().split("/") if p]
    canonical = "/" if not parts else None
    if parts and parts[0].lower() == "keys" and len(parts) <= 2:
        canonical = "/" + "/".join(["keys", *parts[1:]])
    if canonical is None or (len(parts) == 2 and not KEY_NAME.match(parts[1])):
        return f"'{scope}' is not a Managed HSM scope (use {_DATA_SCOPES})"
    if canonical == "/keys" and scope.rstrip().endswith("/"):
        return (
            f"'{scope}' is not a Managed HSM scope; did you mean '/keys' (every key) or '/keys/<key-name>'?"
        )
    return f"'{scope}' is not a Managed HSM scope; did you mean '{canonical}'?"


def check_data_scope(scope: str) -> str:
    """A manifest's data scope: '/', '/keys' or '/keys/<name>', exactly; else an error naming the fix."""
    problem = _data_scope_error(scope)
    if problem:
        raise ValueError(problem)
    return scope


def normalize_data_scope(scope: str) -> str:
    """A scope the service returned, in hsmsync's form ('/KEYS/x/' is '/keys/x'). Never for
    manifests (see check_data_scope): this drops extra and trailing slashes."""
    parts = [p for p in scope.strip().split("/") if p]
    if not parts:
        return "/"
    if parts[0].lower() != "keys" or len(parts) > 2:
        raise ValueError(f"'{scope}' is not a Managed HSM scope (use '/', '/keys' or '/keys/<key>')")
    if len(parts) == 1:
        return "/keys"
    if not KEY_NAME.match(parts[1]):
        raise ValueError(f"'{parts[1]}' is not a valid key name (letters, digits and '-')")
    return f"/keys/{parts[1]}"


@dataclass(frozen=True, slots=True)
class ParsedArmScope:
    """An ARM scope in its parts. `text` is the scope exactly as written (and as sent)."""

    text: str
    management_group: str | None = None
    subscription: str | None = None
    resource_group: str | None = None
    provider: str | None = None  # e.g. Microsoft.KeyVault
    resources: tuple[tuple[str, str], ...] = ()  # (type, name) from the outermost resource in

    @property
    def level(self) -> str:
        if self.management_group is not None:
            return "management group"
        if self.resources:
            return "resource"
        return "resource group" if self.resource_group is not None else "subscription"

    @property
    def resource_type(self) -> str | None:
        """e.g. Microsoft.KeyVault/managedHSMs (None unless a resource)."""
        if not self.resources:
            return None
        return "/".join([self.provider or "", *(t for t, _ in self.resources)])


def _segments(scope: str) -> list[str]:
    odd = next((c for c in scope if c.isspace() or unicodedata.category(c)[0] == "C"), None)
    if odd is not None:
        raise ValueError(
            f"'{scope}' contains {unicodedata.name(odd, f'U+{ord(odd):04X}')}; write the scope without it"
        )
    cleaned = "/" + "/".join(p for p in scope.split("/") if p)
    hint = f"; did you mean '{cleaned}'?" if cleaned != "/" else ""
    if not scope.startswith("/"):
        raise ValueError(f"'{scope}' is not an ARM scope: it must start with '/'{hint}")
    if scope == "/" or scope.endswith("/"):
        raise ValueError(f"'{scope}' is not an ARM scope: it may not end with '/'{hint}")
    segments = scope[1:].split("/")
    if "" in segments:
        raise ValueError(f"'{scope}' is not an ARM scope: empty segment ('//'){hint}")
    for segment in segments:
        if segment in (".", ".."):
            raise ValueError(f"'{scope}' is not an ARM scope: '{segment}' segments are not allowed")
        bad = next((c for c in segment if c in _BAD_SEGMENT_CHARS), None)
        if bad is not None:
            raise ValueError(f"'{scope}' is not an ARM scope: '{bad}' is not allowed in '{segment}'")
    return segments


def parse_arm_scope(scope: str) -> ParsedArmScope:
    """The parts of a well-formed ARM scope; ValueError naming what is wrong otherwise."""
    s = _segments(scope)
    low = [x.lower() for x in s]
    wrong = ValueError(f"'{scope}' is not an ARM scope (use {_ARM_SCOPES})")
    if low[:3] == ["providers", "microsoft.management", "managementgroups"]:
        if len(s) != 4:
            raise wrong
        return ParsedArmScope(scope, management_group=s[3])
    if len(s) < 2 or low[0] != "subscriptions":
        raise wrong
    if len(s) == 2:
        return ParsedArmScope(scope, subscription=s[1])
    if len(s) < 4 or low[2] != "resourcegroups":
        raise wrong
    if len(s) == 4:
        return ParsedArmScope(scope, subscription=s[1], resource_group=s[3])
    chain = s[6:]
    if low[4] != "providers" or not _NAMESPACE.match(s[5]) or not chain or len(chain) % 2:
        raise wrong
    resources = tuple((chain[i], chain[i + 1]) for i in range(0, len(chain), 2))
    if s[5].lower() == "microsoft.keyvault" and resources[0][0].lower() == "vaults" and len(resources) > 1:
        _check_vault_object(scope, resources[1:])
    return ParsedArmScope(scope, subscription=s[1], resource_group=s[3], provider=s[5], resources=resources)


def _check_vault_object(scope: str, below: tuple[tuple[str, str], ...]) -> None:
    """Below a vault: one key, secret or certificate, by a name the service accepts."""
    kind, name = below[0]
    if len(below) > 1 or kind not in VAULT_OBJECT_TYPES:
        raise ValueError(f"'{scope}' is not a Key Vault scope: below a vault use {_VAULT_OBJECTS}")
    if not KEY_NAME.match(name):
        raise ValueError(
            f"'{scope}' is not a Key Vault scope: '{name}' is not a valid {kind[:-1]} name "
            "(letters, digits and '-', at most 127)"
        )


@dataclass(frozen=True, slots=True)
class VaultScope:
    """`vault:<name>` or `vault:<name>/<keys|secrets|certificates>/<object>`: a manifest's
    shorthand for a scope at or below a declared vault (resolved against its `resource_id`)."""

    vault: str
    below: str  # "" for the vault itself, else "/keys/<name>" and the like

    def resolve(self, resource_id: str) -> str:
        return resource_id + self.below


def parse_vault_shorthand(scope: str) -> VaultScope | None:
    """The shorthand's parts; None when `scope` does not start with `vault:`; ValueError if malformed."""
    if not scope.startswith(VAULT_SHORTHAND):
        return None
    m = _SHORTHAND.match(scope)
    if m is None or not m.group("vault").strip() or m.group("vault") != m.group("vault").strip():
        raise ValueError(f"'{scope}' is not a vault scope (use vault:<name> or vault:<name>{_VAULT_OBJECTS})")
    if m.group("type") is None:
        return VaultScope(m.group("vault"), "")
    _check_vault_object(scope, ((m.group("type"), m.group("object")),))
    return VaultScope(m.group("vault"), f"/{m.group('type')}/{m.group('object')}")


def check_management_scope(scope: str) -> str:
    """A manifest's Azure RBAC assignment scope: an ARM scope, or the `vault:` shorthand."""
    if parse_vault_shorthand(scope) is None:
        check_arm_scope(scope)
    return scope


def check_arm_scope(scope: str) -> str:
    """A manifest's ARM scope, unchanged, if it is well formed (see parse_arm_scope)."""
    return parse_arm_scope(scope).text


def normalize_arm_scope(scope: str) -> str:
    """A scope the service returned (or one already checked), without extra or trailing slashes.
    Never for manifests (see check_arm_scope)."""
    cleaned = "/" + "/".join(p for p in scope.strip().split("/") if p)
    if not _ARM_SCOPE.match(cleaned):
        raise ValueError(
            f"'{scope}' is not an ARM scope (management group, subscription, resource group or resource id)"
        )
    return cleaned


def check_arm_resource_id(resource_id: str) -> str:
    """A resource id (not a subscription or resource group), unchanged, if well formed."""
    parsed = parse_arm_scope(resource_id)
    if parsed.level != "resource":
        raise ValueError(f"'{resource_id}' is a {parsed.level}, not a resource id")
    return resource_id


def arm_scope_key(scope: str) -> str:
    """ARM compares scopes case-insensitively."""
    return scope.rstrip("/").lower()


def data_scope_covers(assigned: str, requested: str) -> bool:
    """Does an assignment at `assigned` apply at `requested`?"""
    if assigned == "/":
        return True
    if assigned == "/keys":
        return requested == "/keys" or requested.startswith("/keys/")
    return assigned.lower() == requested.lower()
