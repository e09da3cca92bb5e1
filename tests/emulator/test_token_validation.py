"""The emulator verifies every token like Entra-protected services do, and its token service
answers like Entra: signed tokens, published keys, client-secret and client-assertion grants."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from hsmsync.core.state_directory import FederatedCredential, SignInApplication
from hsmsync_emulator import GITHUB_ISSUER, Emulator, TokenAuthority
from hsmsync_emulator.tokens import TokenRejected
from tests.signin import add_sign_in, sha256, token_for

from .conftest import ADMIN, raw

HSM = "https://managedhsm.azure.net"
ARM = "https://management.azure.com"
GRAPH = "https://graph.microsoft.com"
OTHER_TENANT = "3f1d2c4b-0000-4000-8000-0000000000aa"
ASSIGNMENTS = "/providers/Microsoft.Authorization/roleAssignments"
ARM_PATH = (
    "/subscriptions/2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77/providers/Microsoft.Authorization/roleAssignments"
)


def _claims(emu: Emulator, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "aud": HSM,
        "iss": f"https://sts.windows.net/{emu.tenant_id}/",
        "tid": emu.tenant_id,
        "oid": ADMIN,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    return {**claims, **over}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _rejected(emu: Emulator, token: str, *, hsm: bool = True) -> requests.Response:
    r = raw(emu, "GET", ASSIGNMENTS if hsm else ARM_PATH, token=token, hsm="hsm1" if hsm else None)
    assert r.status_code == 401, r.text
    assert "WWW-Authenticate" in r.headers
    return r


def test_a_signed_token_for_the_right_audience_is_accepted(emu: Emulator) -> None:
    assert raw(emu, "GET", ASSIGNMENTS, token=token_for(emu, ADMIN)).status_code == 200
    assert raw(emu, "GET", ARM_PATH, hsm=None, token=token_for(emu, ADMIN, resource=ARM)).status_code == 200


def test_wrong_audience_is_401(emu: Emulator) -> None:
    r = _rejected(emu, token_for(emu, ADMIN, resource=ARM))  # an ARM token at the data plane
    assert r.headers["WWW-Authenticate"].endswith(f'resource="{HSM}"')  # the challenge names the right one
    assert "wrong audience" in r.json()["error"]["message"]
    r = _rejected(emu, token_for(emu, ADMIN, resource=HSM), hsm=False)  # an HSM token at ARM
    assert r.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    graph = raw(emu, "GET", "/v1.0/groups", hsm=None, token=token_for(emu, ADMIN, resource=ARM))
    assert graph.status_code == 401  # and an ARM token at Graph


def test_expired_token_is_401(emu: Emulator) -> None:
    expired = emu.authority.issue(object_id=ADMIN, resource=ARM, lifetime=-3600)
    r = _rejected(emu, expired, hsm=False)
    assert r.json()["error"]["code"] == "ExpiredAuthenticationToken"
    _rejected(emu, emu.authority.issue(object_id=ADMIN, resource=HSM, lifetime=-3600))


def test_token_of_another_tenant_is_401(emu: Emulator) -> None:
    foreign = TokenAuthority(OTHER_TENANT).issue(object_id=ADMIN, resource=ARM)
    r = _rejected(emu, foreign, hsm=False)
    assert r.json()["error"]["code"] == "InvalidAuthenticationTokenTenant"
    assert OTHER_TENANT in r.json()["error"]["message"]
    _rejected(emu, TokenAuthority(OTHER_TENANT).issue(object_id=ADMIN, resource=HSM))


def test_unsigned_token_is_401(emu: Emulator) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(emu))}."
    r = _rejected(emu, unsigned)
    assert "not signed with RS256" in r.json()["error"]["message"]
    r = _rejected(emu, f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(emu, aud=ARM))}.", hsm=False)
    assert r.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_token_signed_by_an_unknown_key_is_401(emu: Emulator) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(emu), key, algorithm="RS256", headers={"kid": emu.authority.key.kid})
    assert "signature is invalid" in _rejected(emu, forged).json()["error"]["message"]
    unknown_kid = jwt.encode(_claims(emu), key, algorithm="RS256", headers={"kid": "someone-else"})
    assert "did not publish" in _rejected(emu, unknown_kid).json()["error"]["message"]
    # HS256 with the public key as the secret (algorithm confusion) is not accepted either.
    confused = jwt.encode(
        _claims(emu),
        "a-shared-secret-of-at-least-32-bytes!",
        algorithm="HS256",
        headers={"kid": emu.authority.key.kid},
    )
    _rejected(emu, confused)


def _token_url(emu: Emulator) -> str:
    return f"{emu.authority_url}/{emu.tenant_id}/oauth2/v2.0/token"


def _post(emu: Emulator, **form: str) -> requests.Response:
    return requests.post(_token_url(emu), data=form, verify=str(emu.ca_cert_path), timeout=10)


def test_discovery_and_keys_verify_issued_tokens(emu: Emulator) -> None:
    verify = str(emu.ca_cert_path)
    base = f"{emu.authority_url}/{emu.tenant_id}"
    config = requests.get(f"{base}/v2.0/.well-known/openid-configuration", verify=verify, timeout=10).json()
    assert config["token_endpoint"] == _token_url(emu)
    keys = requests.get(config["jwks_uri"], verify=verify, timeout=10).json()["keys"]
    add_sign_in(
        emu,
        applications=[
            SignInApplication(client_id=ADMIN, object_id=ADMIN, client_secret_sha256=(sha256("pw"),))
        ],
    )
    answer = _post(
        emu, grant_type="client_credentials", client_id=ADMIN, client_secret="pw", scope=f"{HSM}/.default"
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    public = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(token, public, algorithms=["RS256"], audience=HSM)
    assert (claims["oid"], claims["appid"], claims["tid"]) == (ADMIN, ADMIN, emu.tenant_id)
    assert "groups" not in claims  # service principals' tokens carry no groups
    wrong = _post(
        emu, grant_type="client_credentials", client_id=ADMIN, client_secret="nope", scope=f"{HSM}/.default"
    )
    assert wrong.status_code == 401 and wrong.json()["error_description"].startswith("AADSTS7000215")
    other = requests.get(
        f"{emu.authority_url}/{OTHER_TENANT}/v2.0/.well-known/openid-configuration", verify=verify, timeout=10
    )
    assert other.status_code == 400 and "AADSTS90002" in other.json()["error_description"]


@pytest.mark.parametrize(
    ("issuer_key", "subject", "audience", "code"),
    [
        ("github", "repo:contoso/other:ref:refs/heads/main", "api://AzureADTokenExchange", "AADSTS700213"),
        ("github", "repo:contoso/hsm:ref:refs/heads/main", "https://github.com/contoso", "AADSTS700212"),
        ("unknown", "repo:contoso/hsm:ref:refs/heads/main", "api://AzureADTokenExchange", "AADSTS700027"),
    ],
)
def test_client_assertions_must_match_a_federated_credential(
    emu: Emulator, issuer_key: str, subject: str, audience: str, code: str
) -> None:
    federated = FederatedCredential(issuer=GITHUB_ISSUER, subject="repo:contoso/hsm:ref:refs/heads/main")
    add_sign_in(
        emu,
        applications=[
            SignInApplication(client_id=ADMIN, object_id=ADMIN, federated_credentials=(federated,))
        ],
    )
    now = int(time.time())
    claims = {"iss": GITHUB_ISSUER, "sub": subject, "aud": audience, "iat": now, "nbf": now, "exp": now + 300}
    if issuer_key == "github":
        assertion = emu.ci.keys[GITHUB_ISSUER].sign(claims)
    else:  # GitHub's issuer name, someone else's key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assertion = jwt.encode(
            claims, key, algorithm="RS256", headers={"kid": emu.ci.keys[GITHUB_ISSUER].kid}
        )
    answer = _post(
        emu,
        grant_type="client_credentials",
        client_id=ADMIN,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion,
        scope=f"{ARM}/.default",
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_description"].startswith(code)


def test_a_remembered_signature_still_gets_every_other_check(emu: Emulator) -> None:
    """The authority remembers tokens whose signature it checked (for speed); the same claims
    under another signature are still refused, and lifetime, tenant and audience are checked on
    every call."""
    good = token_for(emu, ADMIN)
    assert raw(emu, "GET", ASSIGNMENTS, token=good).status_code == 200  # remembered now
    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
    assert "signature is invalid" in _rejected(emu, tampered).json()["error"]["message"]
    later = time.time() + 3600 + 301  # past exp + the clock skew allowed
    with pytest.raises(TokenRejected) as caught:
        emu.authority.verify(good, {HSM}, now=later)
    assert caught.value.kind == "expired"
    with pytest.raises(TokenRejected) as caught:
        emu.authority.verify(good, {ARM})
    assert caught.value.kind == "audience"
    claims = emu.authority.verify(good, {HSM})
    claims["oid"] = "someone else"  # a caller's copy: the remembered claims do not change
    assert emu.authority.verify(good, {HSM})["oid"] == ADMIN
