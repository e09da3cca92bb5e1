"""Credentials: the real one (DefaultAzureCredential, imported lazily) and the emulator's.

The emulator authorizes on an unsigned JWT's `oid`/`groups` claims; its credential comes from
`hsmsync.emulator.tokens`. `endpoints.py` only hands that out for loopback emulator URLs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


def default_credential(**transport: Any) -> TokenCredential:
    """`DefaultAzureCredential`, imported only now: azure.identity costs ~0.4 s to import.

    It reads AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_FEDERATED_TOKEN_FILE...
    from the process environment itself (then managed identity, Azure CLI login, ...).
    `transport`: azure-core transport kwargs for its token requests (connection_timeout,
    read_timeout), so a silent token endpoint cannot stall a run either.
    """
    from azure.identity import DefaultAzureCredential

    credential: TokenCredential = DefaultAzureCredential(**transport)
    return credential


def emulator_credential(oid: str, groups: Sequence[str], tenant_id: str) -> TokenCredential:
    """A credential minting unsigned JWTs for `oid` (only ever sent to a loopback emulator)."""
    from hsmsync.emulator.tokens import DEFAULT_TENANT, StaticJwtCredential

    credential: TokenCredential = StaticJwtCredential(oid, groups, tenant_id or DEFAULT_TENANT)
    return credential
