"""A synthetic fleet: N HSMs x K keys, a manifest for it and a live state a little away from it.

Used by the reliability tests (small) and by `bench/fleet.py` (large). Per HSM:
- the runner (RUNNER) holds Administrator at / and Crypto Auditor at /keys (declared);
- `wide` principals get Crypto User at / and Crypto Auditor at /keys (2 x wide at HSM scope);
- the first `keyed` keys get `per_key` principals each as Crypto User at /keys/<key>;
- live lacks `missing` of the declared assignments (creates) and holds `stray` undeclared ones
  (deletes where the HSM prunes; left alone as unmanaged where it does not).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from hsmsync.core.state import ArmState, DataRoleAssignment, HsmState, LiveState
from hsmsync_files.statefile import write_state_file

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
RUNNER = "0a1b2c3d-0000-4000-8000-0000000000aa"
OUTSIDER = "0a1b2c3d-0000-4000-8000-0000000000ee"
ADMINISTRATOR = "a290e904-7015-4bba-90c8-60543313cdb4"
CRYPTO_AUDITOR = "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3"
CRYPTO_USER = "21dbd100-6940-42c2-9190-5d6cb909625b"
_NS = uuid.UUID("6f1c2b7e-3d4a-4c5b-8e9f-0a1b2c3d4e5f")


def principal(i: int) -> str:
    return str(uuid.UUID(int=0x0B000000_0000_4000_8000_000000000000 + i))


def _name(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


@dataclass(frozen=True)
class Fleet:
    hsms: int = 3
    keys: int = 10
    wide: int = 24  # principals with two HSM-scope assignments each (2 x 24 + 2 runner = 50)
    keyed: int = 5  # keys that carry per-key assignments
    per_key: int = 4  # up to 10
    missing: int = 10  # declared assignments absent from live, per HSM
    stray: int = 10  # undeclared live assignments per HSM (at key scopes)
    prune_every: int = 1  # HSM i prunes when i % prune_every == 0 (others keep strays as unmanaged)

    def hsm_names(self) -> list[str]:
        return [f"hsm{i:02d}" for i in range(self.hsms)]

    def prunes(self, index: int) -> bool:
        return index % self.prune_every == 0

    def key_names(self) -> list[str]:
        return [f"key{k:04d}" for k in range(self.keys)]

    def declared(self) -> list[tuple[str, str, str]]:
        """(scope, role, principal) declared on every HSM, runner first."""
        out = [("/", ADMINISTRATOR, RUNNER), ("/keys", CRYPTO_AUDITOR, RUNNER)]
        for w in range(self.wide):
            out += [("/", CRYPTO_USER, principal(w)), ("/keys", CRYPTO_AUDITOR, principal(w))]
        for k, key in enumerate(self.key_names()[: self.keyed]):
            for j in range(self.per_key):
                out.append((f"/keys/{key}", CRYPTO_USER, principal(1000 + k * 10 + j)))
        return out

    def strays(self) -> list[tuple[str, str, str]]:
        # On keys without declared assignments: creating before deleting (make before break) must
        # not push a key over the service's 10 assignments.
        free = self.key_names()[self.keyed :] or self.key_names()
        return [(f"/keys/{free[s % len(free)]}", CRYPTO_USER, principal(5000 + s)) for s in range(self.stray)]

    # -- files ------------------------------------------------------------------------------------

    def manifest(self) -> str:
        lines = ["version: 1", "principals:"]
        ids = sorted({p for _, _, p in self.declared()})
        lines += [f"  p-{pid[-8:]}: {{type: ServicePrincipal, id: {pid}}}" for pid in ids]
        lines.append("hsms:")
        for i, name in enumerate(self.hsm_names()):
            lines += [
                f"  {name}:",
                f"    url: https://{name}.managedhsm.azure.net",
                f"    resource_id: {resource_id(name)}",
                f"    prune: {'true' if self.prunes(i) else 'false'}",
            ]
        lines.append("teams:")
        by_principal: dict[str, list[tuple[str, str]]] = {}
        for scope, role, pid in self.declared():
            by_principal.setdefault(pid, []).append((scope, role))
        roles = {ADMINISTRATOR: "Administrator", CRYPTO_AUDITOR: "Crypto Auditor", CRYPTO_USER: "Crypto User"}
        for pid in ids:
            lines += [f"  t-{pid[-8:]}:", f"    members: [p-{pid[-8:]}]", "    data:"]
            for hsm in self.hsm_names():
                for scope, role in by_principal[pid]:
                    lines.append(f"      - {{hsm: {hsm}, role: {roles[role]}, scope: {scope}}}")
        return "\n".join(lines) + "\n"

    def live(self) -> LiveState:
        hsms: dict[str, HsmState] = {}
        declared = self.declared()
        for name in self.hsm_names():
            present = declared[: len(declared) - self.missing] if self.missing else declared
            items = [
                DataRoleAssignment(
                    name=_name(name, scope, role, pid), scope=scope, role_definition_id=role, principal_id=pid
                )
                for scope, role, pid in (*present, *self.strays())
            ]
            hsms[name] = HsmState(
                url=f"https://{name}.managedhsm.azure.net",
                resource_id=resource_id(name),
                initial_admin_object_ids=(RUNNER,),
                role_assignments=tuple(items),
                keys=tuple(self.key_names()),
            )
        return LiveState(tenant_id=TENANT, hsms=hsms, arm=ArmState())

    def changes_per_hsm(self, index: int) -> int:
        return self.missing + (self.stray if self.prunes(index) else 0)

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write `hsmsync.yaml` and `state.json` into `directory`."""
        manifest = directory / "hsmsync.yaml"
        manifest.write_text(self.manifest(), encoding="utf-8")
        state = directory / "state.json"
        write_state_file(state, self.live())
        return manifest, state


def resource_id(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-fleet/providers/Microsoft.KeyVault/managedHSMs/{name}"


def natural_keys(state: LiveState) -> list[tuple[str, str, str, str]]:
    """(hsm, scope, role, principal) of every data-plane assignment, duplicates kept."""
    return [
        (hsm, a.scope.lower(), a.role_definition_id.lower(), a.principal_id.lower())
        for hsm, h in state.hsms.items()
        for a in h.role_assignments
    ]
