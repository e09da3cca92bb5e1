"""Pure conversions compile.py uses: manifest sections to state models, and the unknown-role message."""

from __future__ import annotations

from hsmsync.core.catalog import RoleIndex
from hsmsync.core.ids import NIL_GUID
from hsmsync.core.model_hsm import HsmSettingsSpec
from hsmsync.core.model_management import ArmRole
from hsmsync.core.state import PERMISSION_LISTS, HsmSettingsPatch, NetworkAclsPatch, Permission


def arm_blocks(role: ArmRole) -> tuple[Permission, ...]:
    """A custom Azure role's blocks as written: `permissions`, or the flat lists as one block."""
    if role.permissions is None:
        return (Permission(**{name: tuple(getattr(role, name)) for name in PERMISSION_LISTS}),)
    return tuple(
        Permission(**{name: tuple(getattr(b, name)) for name in PERMISSION_LISTS}) for b in role.permissions
    )


def settings_patch(spec: HsmSettingsSpec | None) -> HsmSettingsPatch | None:
    if spec is None:
        return None
    acls = spec.network_acls
    return HsmSettingsPatch(
        purge_protection=spec.purge_protection,
        soft_delete_retention_days=spec.soft_delete_retention_days,
        public_network_access=spec.public_network_access,
        network_acls=NetworkAclsPatch(
            default_action=acls.default_action,
            bypass=acls.bypass,
            ip_rules=None if acls.ip_rules is None else tuple(sorted(acls.ip_rules)),
        )
        if acls
        else None,
    )


def unknown_role(reference: str, index: RoleIndex, extra: list[str] | None = None) -> str:
    close = index.suggestions(reference)
    for key in extra or []:
        if key not in close and reference.lower() in key.lower():
            close.append(key)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown role '{reference}'{hint}"


def application_problem(key: str, object_id: str, application: str | None) -> str | None:
    """What is wrong with a compound entry's application, if anything: the nil GUID, or the
    principal's own object id (a slip, e.g. the id pasted twice), is an entry no token ever
    matches, so it would show as access that nobody holds."""
    if application == NIL_GUID:
        return "the nil GUID names no application; give its client id"
    if application is not None and application == object_id.lower():
        return (
            f"{application} is the object id of '{key}' itself; give the application (client) id it "
            "calls through"
        )
    return None
