"""Entra ID as live state: directory objects with their group and PIM for Groups memberships,
and who may sign in to the emulator's token service (applications and users)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from hsmsync.core.ids import Guid
from hsmsync.core.state_base import FrozenModel

PrincipalType = Literal["User", "Group", "ServicePrincipal"]


class PimMembership(FrozenModel):
    """A PIM for Groups membership (Graph's privilegedAccessGroup eligibility or assignment
    schedule, accessId `member`): `eligible` grants nothing until activated; `active` is a
    membership now, until `end` (none: permanent). A schedule is in force from `start` until
    just before `end` (core/expiry.py `live_as_of` leaves out the others)."""

    group: Guid = Field(description="The PIM-governed group's object id")
    status: Literal["eligible", "active"]
    # Left out of dumps when absent: state files and fingerprints written before it stay the same.
    start: datetime | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="When the schedule starts (none: already started)",
    )
    end: datetime | None = Field(default=None, description="When the schedule ends (none: never)")


class DirectoryObject(FrozenModel):
    """An Entra ID object the emulator's minimal Graph serves (and PrincipalNotFound checks)."""

    id: Guid
    type: PrincipalType
    display_name: str
    user_principal_name: str | None = None
    member_of: tuple[str, ...] = Field(
        default=(),
        description="Groups it is a direct member of (Graph's memberOf; the emulator "
        "also honours them on ARM and Graph for tokens without a `groups` claim; the HSM data plane "
        "ignores a service principal's groups)",
    )
    pim: tuple[PimMembership, ...] = Field(
        default=(),
        # Left out of dumps when empty: state files, saved plans' fingerprints and goldens written
        # before PIM memberships existed stay the same.
        exclude_if=lambda pim: not pim,
        description="PIM for Groups memberships: eligible (granted once activated) or active "
        "(a membership until its end)",
    )


def transitive_groups(directory: tuple[DirectoryObject, ...] | None, object_id: str) -> frozenset[str]:
    """Every group `object_id` is a member of, directly or through other groups (lower-cased)."""
    # An active PIM for Groups membership is a membership; an eligible one is not (until activated).
    parents = {
        o.id.lower(): {g.lower() for g in o.member_of}
        | {p.group.lower() for p in o.pim if p.status == "active"}
        for o in directory or ()
    }
    found: set[str] = set()
    todo = list(parents.get(object_id.lower(), ()))
    while todo:
        group = todo.pop()
        if group not in found:
            found.add(group)
            todo.extend(parents.get(group, ()))
    return frozenset(found)


class FederatedCredential(FrozenModel):
    """A federated identity credential of an application: whose OIDC tokens it accepts."""

    issuer: str = Field(description="e.g. https://token.actions.githubusercontent.com")
    subject: str = Field(description="e.g. repo:contoso/hsm-access:environment:production")
    audiences: tuple[str, ...] = ("api://AzureADTokenExchange",)


class SignInApplication(FrozenModel):
    """An application (service principal) that can sign in to the emulator's token service."""

    client_id: Guid = Field(description="The application (client) id")
    object_id: Guid = Field(description="The service principal's object id")
    display_name: str = ""
    client_secret_sha256: tuple[str, ...] = Field(
        default=(), description="SHA-256 (hex) of each client secret it accepts"
    )
    federated_credentials: tuple[FederatedCredential, ...] = ()
    managed_identity: bool = Field(
        default=False, description="served by the managed-identity endpoint (the first one without client_id)"
    )


class SignInUser(FrozenModel):
    """A user who can sign in (password grant, the emulator's stand-in for `az login`)."""

    object_id: Guid
    user_principal_name: str
    password_sha256: str = Field(description="SHA-256 (hex) of the password")
    groups: tuple[str, ...] = Field(default=(), description="group object ids (the token's groups claim)")


class SignInDirectory(FrozenModel):
    """Who may sign in to the emulator's token service, and as which object."""

    applications: tuple[SignInApplication, ...] = ()
    users: tuple[SignInUser, ...] = ()
