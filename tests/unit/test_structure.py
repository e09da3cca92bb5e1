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
    assert azure_errors.missing_permission(message, "data") == "Microsoft.KeyVault/managedHsm/keys/sign/action"


def test_role_index_resolves_names_and_guids_alike() -> None:
    role = RoleDefinition(name="21dbd100-6940-42c2-9190-5d6cb909625b", role_name="Managed HSM Crypto User")
    index = RoleIndex([role])
    assert index.resolve(" 21DBD100-6940-42C2-9190-5D6CB909625B ") is role
    assert index.resolve("crypto user") is role
    assert index.resolve("Managed HSM Crypto User") is role
    assert index.resolve("nobody") is None
