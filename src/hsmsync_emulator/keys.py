"""A minimal Managed HSM keys API: enough for `KeyClient` to list, get, create and delete keys
(soft delete: list, get, recover and purge deleted keys).

The state records key names and, optionally, their attributes (`key_properties`: type, enabled,
expiry, dates), which the listing and reads serve; a key without them gets fixed defaults. A key
has one version (derived from its name) and its public material is generated deterministically;
nothing can be signed or decrypted with it. Deleted keys (with their attributes) are held by the
running emulator only (the state has no place for them).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from hsmsync.core.scopes import KEY_NAME
from hsmsync.core.state import HsmState, KeyProperties
from hsmsync_emulator.errors import ApiError

_NAMESPACE = uuid.UUID("0c3b8f57-2f52-4f55-9a2f-8f0f8a3c6d21")
_CREATED = 1_700_000_000
RECOVERABLE_DAYS = 7  # the attributes' recoverableDays: a deleted key's purge is scheduled that far out
_OPS = {
    "RSA": ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
    "EC": ["sign", "verify"],
    "oct": ["encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "deriveKey"],
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _stream(seed: str, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return out[:size]


def check_key_name(name: str) -> None:
    if not KEY_NAME.match(name):
        raise ApiError(400, "BadParameter", f"The key name '{name}' is invalid (letters, digits and '-')")


def find_key(hsm: HsmState, name: str) -> str | None:
    return next((k for k in hsm.keys or () if k.lower() == name.lower()), None)


def key_not_found(name: str) -> ApiError:
    return ApiError(
        404,
        "KeyNotFound",
        f"A key with (name/id) {name} was not found in this key vault. If you recently deleted this key "
        "you may be able to recover it using the correct recovery command.",
    )


def key_version(base_url: str, name: str) -> str:
    return uuid.uuid5(_NAMESPACE, f"{base_url.lower()}|{name.lower()}").hex


def key_properties(hsm: HsmState, name: str) -> KeyProperties | None:
    return next((p for p in hsm.key_properties if p.name.lower() == name.lower()), None)


def _attributes(props: KeyProperties | None = None) -> dict[str, Any]:
    """The REST attributes (Unix times): the state's, where it records them."""
    out: dict[str, Any] = {
        "created": _CREATED,
        "enabled": True,
        "exportable": False,
        "recoverableDays": RECOVERABLE_DAYS,
        "recoveryLevel": "CustomizedRecoverable+Purgeable",
        "updated": _CREATED,
    }
    if props is None:
        return out
    out["enabled"] = props.enabled
    if props.exportable is not None:
        out["exportable"] = props.exportable
    for field, when in (
        ("created", props.created_on),
        ("updated", props.updated_on or props.created_on),
        ("exp", props.expires_on),
        ("nbf", props.not_before),
    ):
        if when is not None:
            out[field] = int(when.timestamp())
    return out


def key_item(base_url: str, name: str, props: KeyProperties | None = None) -> dict[str, Any]:
    return {"attributes": _attributes(props), "kid": f"{base_url}/keys/{name}"}


def key_bundle(
    base_url: str,
    name: str,
    kty: str = "RSA-HSM",
    body: dict[str, Any] | None = None,
    props: KeyProperties | None = None,
) -> dict[str, Any]:
    family = kty.removesuffix("-HSM")
    if family not in _OPS:
        family = "RSA"
    key: dict[str, Any] = {
        "kid": f"{base_url}/keys/{name}/{key_version(base_url, name)}",
        "kty": f"{family}-HSM",
        "key_ops": list((body or {}).get("key_ops") or _OPS[family]),
    }
    if family == "RSA":
        size = int((body or {}).get("key_size") or 2048)
        modulus = bytearray(_stream(f"n:{name}", max(size // 8, 64)))
        modulus[0] |= 0x80
        modulus[-1] |= 0x01
        key["n"] = _b64url(bytes(modulus))
        exponent = int((body or {}).get("public_exponent") or 65537)
        key["e"] = _b64url(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big"))
    elif family == "EC":
        crv = str((body or {}).get("crv") or "P-256")
        width = {"P-256": 32, "P-256K": 32, "P-384": 48, "P-521": 66}.get(crv, 32)
        key["crv"] = crv
        key["x"] = _b64url(_stream(f"x:{name}", width))
        key["y"] = _b64url(_stream(f"y:{name}", width))
    bundle: dict[str, Any] = {"attributes": _attributes(props), "key": key}
    tags = (body or {}).get("tags")
    if isinstance(tags, dict):
        bundle["tags"] = tags
    return bundle


def create_key(hsm: HsmState, name: str, body: Any) -> tuple[HsmState, str]:
    check_key_name(name)
    if not isinstance(body, dict) or not isinstance(body.get("kty"), str):
        raise ApiError(400, "BadParameter", "The parameter 'kty' is required")
    exponent = body.get("public_exponent")
    if exponent is not None and (
        not isinstance(exponent, int) or isinstance(exponent, bool) or exponent < 3 or exponent % 2 == 0
    ):
        raise ApiError(
            400, "BadParameter", f"Invalid public_exponent '{exponent}' (an odd integer of 3 or more)"
        )
    existing = find_key(hsm, name)
    if existing is not None:
        return hsm, existing
    return hsm.model_copy(update={"keys": (*(hsm.keys or ()), name)}), name


def delete_key(hsm: HsmState, name: str) -> tuple[HsmState, tuple[str, KeyProperties | None]]:
    """The HSM without the key (and its attributes); the key's name and attributes."""
    existing = find_key(hsm, name)
    if existing is None:
        raise key_not_found(name)
    props = key_properties(hsm, existing)
    update = {
        "keys": tuple(k for k in hsm.keys or () if k != existing),
        "key_properties": tuple(p for p in hsm.key_properties if p is not props),
    }
    return hsm.model_copy(update=update), (existing, props)


def recover_key(hsm: HsmState, name: str, props: KeyProperties | None) -> tuple[HsmState, str]:
    if find_key(hsm, name) is not None:
        raise ApiError(409, "Conflict", f"Key {name} already exists and cannot be recovered over.")
    update: dict[str, Any] = {"keys": (*(hsm.keys or ()), name)}
    if props is not None:
        update["key_properties"] = (*hsm.key_properties, props)
    return hsm.model_copy(update=update), name


def deleted_key_not_found() -> ApiError:
    return ApiError(404, "KeyNotFound", "Deleted Key not found")


def key_is_deleted(name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f"Key {name} is currently in a deleted but recoverable state, and its name cannot be reused; "
        "in this state, the key can only be recovered or purged.",
    )


@dataclass(frozen=True)
class DeletedKey:
    name: str
    kty: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    props: KeyProperties | None = None
    deleted: int = dataclasses.field(default_factory=lambda: int(time.time()))

    def fields(self, base_url: str) -> dict[str, Any]:
        return {
            "recoveryId": f"{base_url}/deletedkeys/{self.name}",
            "deletedDate": self.deleted,
            "scheduledPurgeDate": self.deleted + RECOVERABLE_DAYS * 86_400,
        }

    def item(self, base_url: str) -> dict[str, Any]:
        return {**key_item(base_url, self.name, self.props), **self.fields(base_url)}

    def bundle(self, base_url: str) -> dict[str, Any]:
        return {**key_bundle(base_url, self.name, self.kty, self.params, self.props), **self.fields(base_url)}
