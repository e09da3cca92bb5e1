"""What a change lands on: one Managed HSM, one Key Vault, or Azure RBAC (ARM).

A typed value instead of a string, so an HSM that happens to be named `arm` is an HSM: it is
never read as Azure RBAC, never widens ARM discovery, never shares ARM's apply lane. `str()` of
a target is its spelling in the plan JSON (the HSM's name, `vault:<name>`, `arm`), unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

_VAULT_PREFIX = "vault:"
_ARM_KEY = "arm"


class TargetKind(StrEnum):
    HSM = "hsm"
    VAULT = "vault"
    ARM = "arm"


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    name: str = ""  # the HSM's or vault's manifest name; empty for ARM

    @classmethod
    def hsm(cls, name: str) -> Target:
        return cls(TargetKind.HSM, name)

    @classmethod
    def vault(cls, name: str) -> Target:
        return cls(TargetKind.VAULT, name)

    @property
    def is_arm(self) -> bool:
        return self.kind is TargetKind.ARM

    @property
    def key(self) -> str:
        """The plan JSON's spelling: the HSM's name, `vault:<name>`, or `arm`."""
        if self.kind is TargetKind.ARM:
            return _ARM_KEY
        return _VAULT_PREFIX + self.name if self.kind is TargetKind.VAULT else self.name

    @property
    def where(self) -> str:
        """How a listing names it: the HSM's name, `vault:<name>`, or Azure RBAC."""
        return "Azure RBAC" if self.kind is TargetKind.ARM else self.key

    def __str__(self) -> str:
        return self.key


ARM = Target(TargetKind.ARM)


def parse_target(text: str, kind: TargetKind) -> Target:
    """A target from its plan-JSON spelling, when the change's kind says which kind it must be
    (the text alone cannot: `arm` is also a legal HSM name)."""
    if kind is TargetKind.ARM:
        if text != _ARM_KEY:
            raise ValueError(f"target '{text}': this change lands on Azure RBAC, written 'arm'")
        return ARM
    if kind is TargetKind.VAULT:
        if not text.startswith(_VAULT_PREFIX) or text == _VAULT_PREFIX:
            raise ValueError(f"target '{text}': this change lands on a Key Vault, written 'vault:<name>'")
        return Target.vault(text.removeprefix(_VAULT_PREFIX))
    if text.startswith(_VAULT_PREFIX):
        raise ValueError(f"target '{text}': this change lands on an HSM, written as its name")
    return Target.hsm(text)
