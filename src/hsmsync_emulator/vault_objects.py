"""A Key Vault's secrets, keys and certificates, as the emulator's vault data plane keeps them.

Held in memory while the emulator runs (the state file records who may do what, not the vault's
contents). Keys are real RSA keys, so signatures verify and wrapped keys unwrap; a certificate is
stored as imported (its PEM or base64 DER), with the DER served as `cer`.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from hsmsync_emulator.errors import ApiError

NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ApiError(400, "BadParameter", "The value is not base64url") from None


def check_name(name: str, what: str) -> None:
    if not NAME.match(name):
        raise ApiError(400, "BadParameter", f"The {what} name '{name}' is invalid (letters, digits and '-')")


def not_found(what: str, name: str) -> ApiError:
    code = {"key": "KeyNotFound", "secret": "SecretNotFound", "certificate": "CertificateNotFound"}[what]
    return ApiError(404, code, f"A {what} with (name/id) {name} was not found in this key vault.")


def _attributes() -> dict[str, Any]:
    now = int(time.time())
    return {"enabled": True, "created": now, "updated": now, "recoveryLevel": "Recoverable+Purgeable"}


@dataclass
class _Key:
    version: str
    private: rsa.RSAPrivateKey


@dataclass
class VaultObjects:
    secrets: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (version, value)
    keys: dict[str, _Key] = field(default_factory=dict)
    certificates: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (version, DER)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------------------------ secrets

    def set_secret(self, base: str, name: str, body: Any) -> dict[str, Any]:
        check_name(name, "secret")
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            raise ApiError(400, "BadParameter", "The secret needs a string 'value'")
        with self.lock:
            self.secrets[name.lower()] = (uuid.uuid4().hex, body["value"])
        return self.secret_bundle(base, name, "")

    def secret_bundle(self, base: str, name: str, version: str) -> dict[str, Any]:
        with self.lock:
            found = self.secrets.get(name.lower())
        if found is None or (version and version != found[0]):
            raise not_found("secret", name)
        return {"value": found[1], "id": f"{base}/secrets/{name}/{found[0]}", "attributes": _attributes()}

    def secret_items(self, base: str) -> list[dict[str, Any]]:
        with self.lock:
            names = sorted(self.secrets)
        return [{"id": f"{base}/secrets/{n}", "attributes": _attributes()} for n in names]

    # --------------------------------------------------------------------------------------- keys

    def create_key(self, base: str, name: str, body: Any) -> dict[str, Any]:
        check_name(name, "key")
        kty = body.get("kty") if isinstance(body, dict) else None
        if kty not in ("RSA", "RSA-HSM"):
            raise ApiError(400, "BadParameter", "The emulator's vaults create RSA keys only ('kty': 'RSA')")
        size = int(body.get("key_size") or 2048)
        private = rsa.generate_private_key(public_exponent=65537, key_size=size)
        with self.lock:
            self.keys[name.lower()] = _Key(uuid.uuid4().hex, private)
        return self.key_bundle(base, name, "")

    def _key(self, name: str, version: str) -> _Key:
        with self.lock:
            found = self.keys.get(name.lower())
        if found is None or (version and version != found.version):
            raise not_found("key", f"{name}/{version}" if version else name)
        return found

    def key_bundle(self, base: str, name: str, version: str) -> dict[str, Any]:
        key = self._key(name, version)
        numbers = key.private.public_key().public_numbers()
        jwk = {
            "kid": f"{base}/keys/{name}/{key.version}",
            "kty": "RSA",
            "key_ops": ["sign", "verify", "wrapKey", "unwrapKey", "encrypt", "decrypt"],
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }
        return {"key": jwk, "attributes": _attributes()}

    def key_items(self, base: str) -> list[dict[str, Any]]:
        with self.lock:
            names = sorted(self.keys)
        return [{"kid": f"{base}/keys/{n}", "attributes": _attributes()} for n in names]

    def key_operation(self, base: str, name: str, version: str, op: str, body: Any) -> dict[str, Any]:
        key = self._key(name, version)
        if not isinstance(body, dict) or not isinstance(body.get("alg"), str) or "value" not in body:
            raise ApiError(400, "BadParameter", "The request needs 'alg' and 'value'")
        alg, value = body["alg"], b64url_decode(str(body["value"]))
        kid = f"{base}/keys/{name}/{key.version}"
        return {"kid": kid, "value": b64url(_run(key.private, op, alg, value))}

    # ------------------------------------------------------------------------------- certificates

    def import_certificate(self, base: str, name: str, body: Any) -> dict[str, Any]:
        check_name(name, "certificate")
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise ApiError(400, "BadParameter", "The certificate needs a 'value'")
        try:
            der = _certificate_der(value)
        except ValueError:
            raise ApiError(
                400, "BadParameter", "The emulator imports a PEM or DER certificate only"
            ) from None
        with self.lock:
            self.certificates[name.lower()] = (uuid.uuid4().hex, der)
        return self.certificate_bundle(base, name, "")

    def certificate_bundle(self, base: str, name: str, version: str) -> dict[str, Any]:
        with self.lock:
            found = self.certificates.get(name.lower())
        if found is None or (version and version != found[0]):
            raise not_found("certificate", name)
        cert_id = f"{base}/certificates/{name}/{found[0]}"
        return {
            "id": cert_id,
            "kid": f"{base}/keys/{name}/{found[0]}",
            "sid": f"{base}/secrets/{name}/{found[0]}",
            "cer": base64.b64encode(found[1]).decode("ascii"),
            "attributes": _attributes(),
        }

    def certificate_items(self, base: str) -> list[dict[str, Any]]:
        with self.lock:
            names = sorted(self.certificates)
        return [{"id": f"{base}/certificates/{n}", "attributes": _attributes()} for n in names]


def _certificate_der(value: str) -> bytes:
    """The DER of an imported certificate: PEM text, or base64 of PEM or DER (as the SDK sends bytes)."""
    pem = _PEM_CERT.search(value)
    if pem is None:
        raw = base64.b64decode(value, validate=False)
        pem = _PEM_CERT.search(raw.decode("latin-1"))
        if pem is None:
            x509.load_der_x509_certificate(raw)
            return raw
    der = base64.b64decode("".join(pem.group(1).split()))
    x509.load_der_x509_certificate(der)
    return der


def _run(private: rsa.RSAPrivateKey, op: str, alg: str, value: bytes) -> bytes:
    """sign (RS*/PS* over a digest), wrapkey and unwrapkey (RSA-OAEP, RSA-OAEP-256, RSA1_5)."""
    if op == "sign" and alg[:2] in ("RS", "PS") and alg[2:] in _HASHES:
        algorithm = _HASHES[alg[2:]]()
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.DIGEST_LENGTH)
        )
        return private.sign(value, pad, utils.Prehashed(algorithm))
    oaep = {
        "RSA-OAEP": padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
        "RSA-OAEP-256": padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        ),
        "RSA1_5": padding.PKCS1v15(),
    }
    if op in ("wrapkey", "unwrapkey") and alg in oaep:
        try:
            if op == "wrapkey":
                return private.public_key().encrypt(value, oaep[alg])
            return private.decrypt(value, oaep[alg])
        except ValueError:
            raise ApiError(400, "BadParameter", f"{op} failed: the value does not fit {alg}") from None
    raise ApiError(400, "BadParameter", f"The emulator does not support {op} with '{alg}'")
