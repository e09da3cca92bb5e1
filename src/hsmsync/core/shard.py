"""`--target`: plan, apply and check only some of a fleet (one CI job per HSM).

A selection keeps the HSMs and vaults it names and, with `arm`, Azure RBAC (management-plane
assignments, custom Azure roles, their pruning). A vault's target includes the Azure role
assignments at or below it (its Azure RBAC); `arm` has the others. Everything downstream (discovery, planning,
the lockout guard, saved-plan binding) works on the narrowed desired state, so a sharded plan is
the full plan's changes that land on the selected targets, with the same safety checks.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import replace

from hsmsync.core.desired import DesiredAssignment, DesiredState, management_target
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.plan import Plan, Plane
from hsmsync.core.state import ArmState, LiveState
from hsmsync.core.target import ARM, Target, TargetKind

Selection = frozenset[Target]


def option_text(target: Target) -> str:
    """How `--target` spells it: `hsm:NAME`, `vault:NAME` or `arm`."""
    return "arm" if target.is_arm else f"{target.kind.value}:{target.name}"


def known_targets(state: DesiredState | LiveState) -> list[Target]:
    """The targets a manifest declares (or, for `export`, that live state holds)."""
    return [
        *(Target.hsm(name) for name in sorted(state.hsms)),
        *(Target.vault(name) for name in sorted(state.vaults)),
        ARM,
    ]


def parse_selection(texts: Iterable[str], state: DesiredState | LiveState) -> Selection:
    """The targets `--target` names; an unknown one is an error with the closest known spelling."""
    known = {option_text(t): t for t in known_targets(state)}
    chosen = set()
    for text in texts:
        if text in known:
            chosen.add(known[text])
            continue
        close = difflib.get_close_matches(text, list(known), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise HsmsyncError(
            f"--target '{text}': no such target; {hint}"
            f"(one of: {', '.join(known)}; written hsm:NAME, vault:NAME or arm)"
        )
    return frozenset(chosen)


def targeted_hsms(texts: Iterable[str]) -> frozenset[str]:
    """The HSM names `--target` texts spell (`hsm:NAME`); whether each exists is parse_selection's."""
    prefix = f"{TargetKind.HSM.value}:"
    return frozenset(t.removeprefix(prefix) for t in texts if t.startswith(prefix))


def select_desired(desired: DesiredState, selection: Selection) -> DesiredState:
    """The desired state of the selected targets only (principals stay: they are shared)."""
    arm = ARM in selection

    def selected(a: DesiredAssignment) -> bool:
        if a.plane is Plane.MANAGEMENT:
            return management_target(a.scope, desired.vaults) in selection
        return Target.hsm(a.target) in selection

    # An Azure role assignment at or below a declared vault belongs to that vault's target.
    arm_scopes = tuple(s for s in desired.arm_scopes if management_target(s, desired.vaults) in selection)
    return replace(
        desired,
        hsms={n: h for n, h in desired.hsms.items() if Target.hsm(n) in selection},
        vaults={n: v for n, v in desired.vaults.items() if Target.vault(n) in selection},
        assignments=tuple(a for a in desired.assignments if selected(a)),
        listed_roles=tuple(r for r in desired.listed_roles if Target.hsm(r.hsm) in selection),
        arm_scopes=arm_scopes,
        management_prune=desired.management_prune and bool(arm_scopes),
        prune_arm_roles=desired.prune_arm_roles and arm,
        arm_roles=desired.arm_roles if arm else (),
    )


def select_live(live: LiveState, selection: Selection) -> LiveState:
    """Live state of the selected targets only (`export --target`)."""
    return live.model_copy(
        update={
            "hsms": {n: h for n, h in live.hsms.items() if Target.hsm(n) in selection},
            "vaults": {n: v for n, v in live.vaults.items() if Target.vault(n) in selection},
            "arm": live.arm if ARM in selection else ArmState(),
        }
    )


def select_plan(plan: Plan, selection: Selection) -> Plan:
    """The changes (and unmanaged items) of a plan that land on the selected targets."""
    return replace(
        plan,
        changes=tuple(c for c in plan.changes if c.target in selection),
        unmanaged=tuple(u for u in plan.unmanaged if u.target in selection),
    )


def selection_texts(selection: Selection) -> list[str]:
    """Sorted `--target` spellings, as a saved plan records them ([] = everything)."""
    order = {TargetKind.HSM: 0, TargetKind.VAULT: 1, TargetKind.ARM: 2}
    return [option_text(t) for t in sorted(selection, key=lambda t: (order[t.kind], t.name))]
