"""The shape of the code, checked: dead code stays gone, twins stay single (issue 11)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from hsmsync.backends.azure import errors as azure_errors
from hsmsync.core.catalog import RoleIndex
from hsmsync.core.state import RoleDefinition

REMOVED = [
    ("hsmsync.backends.azure.errors", "ASSIGNMENT_EXISTS_CODES"),
    ("hsmsync.core.catalog", "RoleMatch"),
    ("hsmsync.core.catalog", "role_display_name"),
    ("hsmsync.render.access_text", "render_access_delta"),
]


@pytest.mark.parametrize(("module", "name"), REMOVED)
def test_dead_code_is_gone(module: str, name: str) -> None:
    assert not hasattr(importlib.import_module(module), name)


def test_missing_permission_reads_only_the_message() -> None:
    assert list(inspect.signature(azure_errors.missing_permission).parameters) == ["message", "plane"]
    message = "Caller is not authorized: Microsoft.KeyVault/managedHsm/keys/sign/action denied"
    assert (
        azure_errors.missing_permission(message, "data") == "Microsoft.KeyVault/managedHsm/keys/sign/action"
    )


def test_role_index_resolves_names_and_guids_alike() -> None:
    role = RoleDefinition(name="21dbd100-6940-42c2-9190-5d6cb909625b", role_name="Managed HSM Crypto User")
    index = RoleIndex([role])
    assert index.find(" 21DBD100-6940-42C2-9190-5D6CB909625B ") is role
    assert index.find("crypto user") is role
    assert index.find("Managed HSM Crypto User") is role
    assert index.find("nobody") is None


def test_one_rest_shape_for_role_definitions_of_both_planes() -> None:
    from hsmsync.core.catalog import definition_from_rest, definition_to_rest
    from hsmsync.core.state import ArmRoleDefinition, Permission
    from hsmsync_emulator.arm_custom_roles import custom_role_json
    from hsmsync_emulator.rbac import definition_json

    block = Permission(actions=("Microsoft.KeyVault/managedHSMs/read",))
    arm_role = ArmRoleDefinition(
        name="3fd1c7f2-0000-4000-8000-000000000001",
        role_name="Reader",
        permissions=(block,),
        assignable_scopes=("/",),
    )
    served = custom_role_json(arm_role, "/subscriptions/s")
    assert served["properties"].pop("createdOn") and served["properties"].pop("updatedOn")
    assert (
        served["properties"].pop("createdBy", "x") is None
        and served["properties"].pop("updatedBy", "x") is None
    )
    assert served == definition_to_rest(arm_role, id_prefix=served["id"].removesuffix(arm_role.name))
    data_role = RoleDefinition(
        name="3fd1c7f2-0000-4000-8000-000000000002", role_name="Mine", permissions=(block,)
    )
    assert definition_from_rest(definition_json(data_role)) == data_role


def test_one_guid_type_for_manifest_and_state() -> None:
    from hsmsync.core import ids, model, state, state_directory

    assert model.Guid is ids.Guid and state.Guid is ids.Guid  # type: ignore[attr-defined]  # the modules import it, not export it
    upper = "AAAAAAAA-0000-0000-0000-000000000001"
    assert state.AccessPolicy(object_id=upper).object_id == upper.lower()
    assert state_directory.DirectoryObject(id=upper, type="User", display_name="a").id == upper.lower()


def test_every_kind_has_its_module_in_the_registry() -> None:
    from hsmsync.core.kinds import KINDS
    from hsmsync.core.plan import Kind

    assert set(KINDS) == set(Kind)
    for kind, module in KINDS.items():
        assert module.__name__ == f"hsmsync.core.kinds.{kind.value}"  # type: ignore[attr-defined]


def test_state_edits_and_saved_plans_switch_on_no_kind() -> None:
    """The per-kind semantics live in core/kinds, reached through the registry."""
    from pathlib import Path

    import hsmsync.core.plan_io
    import hsmsync.core.state_edits
    import hsmsync.render.labels

    for module in (hsmsync.core.state_edits, hsmsync.core.plan_io):
        assert " Kind." not in Path(str(module.__file__)).read_text()
    labels = Path(str(hsmsync.render.labels.__file__)).read_text()
    assert "def section_of" in labels and " Kind." not in labels.split("def section_of")[1].split("\ndef ")[0]


def test_a_change_is_its_kinds_subject_on_a_target() -> None:
    import dataclasses

    from hsmsync.core.plan import Change, SettingsSubject

    assert [f.name for f in dataclasses.fields(Change)] == [
        "id",
        "action",
        "target",
        "reason",
        "subject",
        "risks",
    ]
    # the plan JSON's shared record is what the kind writes, not a placeholder the planner fills in
    assert "name" not in {f.name for f in dataclasses.fields(SettingsSubject)}
    assert (SettingsSubject.name, SettingsSubject.role, SettingsSubject.role_id) == (
        "properties",
        "HSM settings",
        "",
    )
