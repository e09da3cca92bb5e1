"""A Key Vault on access policies with four identities, and the real SDK clients of its data plane
(SecretClient, KeyClient, CryptographyClient, CertificateClient) against the emulator."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.keyvault.certificates import CertificateClient
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm, SignatureAlgorithm
from azure.keyvault.secrets import SecretClient

from hsmsync.core.state import AccessPolicy, ArmRoleAssignment, ArmState, LiveState, VaultState
from hsmsync.core.state_directory import DirectoryObject
from hsmsync.core.vault_permissions import PERMISSIONS
from hsmsync_emulator import Emulator
from tests.signin import EmulatorCredential

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/AppRG/providers/Microsoft.KeyVault/vaults/payments-kv"
VAULT_URL = "https://payments-kv.vault.azure.net"
SECRETS_APP = "a0000000-0000-4000-8000-000000000001"  # read-only secrets app: secrets get, list
SIGNER = "a0000000-0000-4000-8000-000000000002"  # key signer: keys get, sign
SECURITY = "a0000000-0000-4000-8000-000000000003"  # security team: every key permission
AUDITOR = "a0000000-0000-4000-8000-000000000004"  # auditor: list keys, secrets, certificates
PIPELINE = "a0000000-0000-4000-8000-000000000009"  # the migration's executor (Owner on the vault)
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
KEY_PERMISSIONS = tuple(p.lower() for p in PERMISSIONS["keys"])


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vault-migration"
MANIFEST = (EXAMPLE / "hsmsync.yaml").read_text(encoding="utf-8")


def executor_owner() -> ArmState:
    """The migration's executor (the pipeline) is Owner of the vault's resource group."""
    return ArmState(
        role_assignments=(
            ArmRoleAssignment(
                name="e0000000-0000-4000-8000-000000000001",
                scope=f"/subscriptions/{SUB}/resourceGroups/AppRG",
                role_definition_id=OWNER_ROLE,
                principal_id=PIPELINE,
                principal_type="ServicePrincipal",
            ),
        )
    )


def vault_state(*policies: AccessPolicy, rbac: bool = False, arm: ArmState | None = None) -> LiveState:
    vault = VaultState(
        url=VAULT_URL,
        resource_id=VAULT_ID,
        tenant_id=TENANT,
        enable_rbac_authorization=rbac,
        access_policies=policies or four_identities(),
    )
    directory = tuple(
        DirectoryObject(id=oid, type="ServicePrincipal", display_name=name)
        for oid, name in (
            (SECRETS_APP, "orders-api"),
            (SIGNER, "release-signer"),
            (SECURITY, "security-team"),
            (AUDITOR, "auditor"),
            (PIPELINE, "pipeline"),
        )
    )
    return LiveState(
        tenant_id=TENANT, vaults={"payments-kv": vault}, arm=arm or ArmState(), directory=directory
    )


def four_identities() -> tuple[AccessPolicy, ...]:
    return (
        AccessPolicy(object_id=SECRETS_APP, secrets=("get", "list")),
        AccessPolicy(object_id=SIGNER, keys=("get", "sign")),
        AccessPolicy(object_id=SECURITY, keys=KEY_PERMISSIONS, secrets=("set",), certificates=("import",)),
        AccessPolicy(object_id=AUDITOR, keys=("list",), secrets=("list",), certificates=("list",)),
    )


def _kwargs(emu: Emulator) -> dict[str, Any]:
    return {"verify_challenge_resource": False, "connection_verify": str(emu.ca_cert_path)}


def secrets(emu: Emulator, oid: str) -> SecretClient:
    return SecretClient(emu.vault_urls["payments-kv"], EmulatorCredential(emu, oid), **_kwargs(emu))


def keys(emu: Emulator, oid: str) -> KeyClient:
    return KeyClient(emu.vault_urls["payments-kv"], EmulatorCredential(emu, oid), **_kwargs(emu))


def crypto(emu: Emulator, oid: str, key_id: str) -> CryptographyClient:
    return CryptographyClient(key_id, EmulatorCredential(emu, oid), **_kwargs(emu))


def certificates(emu: Emulator, oid: str) -> CertificateClient:
    return CertificateClient(emu.vault_urls["payments-kv"], EmulatorCredential(emu, oid), **_kwargs(emu))


def seed(emu: Emulator) -> str:
    """A secret, a key and a certificate, written by the security team; the key's id."""
    secrets(emu, SECURITY).set_secret("db-password", "s3cret")
    key = keys(emu, SECURITY).create_rsa_key("signing-key", size=2048)
    # any certificate will do: the emulator's own CA certificate
    certificates(emu, SECURITY).import_certificate("tls", emu.ca_cert_path.read_bytes())
    return str(key.id)


Probe = Callable[[], object]


def probes(emu: Emulator, key_id: str) -> dict[str, Probe]:
    """What each identity does with the vault every day, as data-plane calls."""
    digest = hashlib.sha256(b"release 1.2.3").digest()
    sec, signer, team, auditor = (
        secrets(emu, SECRETS_APP),
        crypto(emu, SIGNER, key_id),
        keys(emu, SECURITY),
        (keys(emu, AUDITOR), secrets(emu, AUDITOR), certificates(emu, AUDITOR)),
    )
    team_crypto = crypto(emu, SECURITY, key_id)
    return {
        "orders-api: get secret": lambda: sec.get_secret("db-password").value,
        "orders-api: list secrets": lambda: [s.name for s in sec.list_properties_of_secrets()],
        "release-signer: sign": lambda: signer.sign(SignatureAlgorithm.rs256, digest).signature,
        "security-team: get key": lambda: team.get_key("signing-key").id,
        "security-team: wrap key": lambda: team_crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, b"k" * 32),
        "security-team: unwrap key": lambda: team_crypto.unwrap_key(
            KeyWrapAlgorithm.rsa_oaep_256,
            team_crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, b"k" * 32).encrypted_key,
        ),
        "auditor: list keys": lambda: [k.name for k in auditor[0].list_properties_of_keys()],
        "auditor: list secrets": lambda: [s.name for s in auditor[1].list_properties_of_secrets()],
        "auditor: list certificates": lambda: [c.name for c in auditor[2].list_properties_of_certificates()],
    }
