"""Unit tests of the live backend's pure helpers: ids, scopes, error mapping, endpoints, mode choice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
)
from azure.keyvault.administration import KeyVaultRoleScope

from hsmsync.backends.azure import make_azure_backend
from hsmsync.backends.azure.discovery import Discovery, DiscoveryMode, choose_mode
from hsmsync.backends.azure.endpoints import read_endpoints, settings_from_endpoints
from hsmsync.backends.azure.errors import Attempt, error_code, redact, to_backend_error
from hsmsync.backends.azure.factory import retry_from_environ, timeouts_from_environ
from hsmsync.backends.azure.hosts import is_loopback_host, url_host
from hsmsync.backends.azure.ids import (
    arm_principal_type,
    arm_role_definition_id,
    data_role_definition_id,
    parse_arm_scope,
    parse_managed_hsm_id,
    role_guid,
    scope_text,
)
from hsmsync.backends.azure.settings import TimeoutSettings
from hsmsync.core.errors import HsmsyncError, StateError

GUID = "21dbd100-6940-42c2-9190-5d6cb909625b"
OID = "11111111-2222-3333-4444-555555555555"
SUB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
JWT = "eyJhbGciOiJub25lIn0.eyJvaWQiOiJ4In0.sig"


class FakeResponse:
    """Just enough of an azure-core response for HttpResponseError to parse the error body."""

    def __init__(self, status: int, body: Any, reason: str = "Error") -> None:
        self.status_code = status
        self.reason = reason
        self._text = body if isinstance(body, str) else json.dumps(body)

    def text(self, encoding: str | None = None) -> str:
        return self._text


def http_error(status: int, code: str, message: str, cls: type[HttpResponseError] = HttpResponseError) -> Any:
    return cls(response=FakeResponse(status, {"error": {"code": code, "message": message}}))  # type: ignore[arg-type]


DATA_ATTEMPT = Attempt(
    "create role assignment n1", "data", "contoso", "/keys/k1", role_id=GUID, principal_id=OID
)


# -- ids and scopes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (KeyVaultRoleScope.GLOBAL, "/"),
        (KeyVaultRoleScope.KEYS, "/keys"),
        ("/", "/"),
        ("", "/"),
        ("///", "/"),
        ("/keys/", "/keys"),
        ("KEYS", "/keys"),
        ("/keys/my-key", "/keys/my-key"),
        ("keys/my-key/", "/keys/my-key"),
        ("/weird/thing", "/weird/thing"),
    ],
)
def test_scope_text(raw: object, expected: str) -> None:
    assert scope_text(raw) == expected


def test_role_definition_ids() -> None:
    full = data_role_definition_id(GUID.upper())
    assert full == f"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/{GUID}"
    assert role_guid(full) == GUID
    assert (
        role_guid(f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{GUID.upper()}")
        == GUID
    )
    assert role_guid(GUID) == GUID
    with pytest.raises(ValueError, match="GUID"):
        role_guid("Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/not-a-guid")


def test_arm_scopes_and_definition_ids() -> None:
    hsm = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/contoso"
    parsed = parse_arm_scope(hsm + "/")
    assert (parsed.scope, parsed.subscription_id, parsed.management_group) == (hsm, SUB, None)
    assert arm_role_definition_id(hsm, GUID.upper()) == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{GUID}"
    )
    mg = "/providers/Microsoft.Management/managementGroups/corp"
    assert parse_arm_scope(mg).management_group == "corp"
    assert (
        arm_role_definition_id(mg, GUID) == f"{mg}/providers/Microsoft.Authorization/roleDefinitions/{GUID}"
    )
    with pytest.raises(ValueError):
        parse_arm_scope("/not/a/scope")


def test_managed_hsm_id() -> None:
    rid = f"/subscriptions/{SUB}/resourceGroups/rg-1/providers/Microsoft.KeyVault/managedHSMs/contoso"
    parsed = parse_managed_hsm_id(rid)
    assert parsed is not None
    assert (parsed.subscription_id, parsed.resource_group, parsed.name) == (SUB, "rg-1", "contoso")
    assert parse_managed_hsm_id(f"/subscriptions/{SUB}/resourceGroups/rg-1") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("User", "User"),
        ("Group", "Group"),
        ("ForeignGroup", "Group"),
        ("ServicePrincipal", "ServicePrincipal"),
        ("MSI", "ServicePrincipal"),
        (None, "User"),
    ],
)
def test_arm_principal_type(raw: object, expected: str) -> None:
    assert arm_principal_type(raw) == expected


# -- error mapping --------------------------------------------------------------------------------


def test_access_denied_names_the_missing_data_action() -> None:
    exc = http_error(
        403,
        "AccessDenied",
        "Not authorized to access Microsoft.KeyVault/managedHsm/roleAssignments/write/action on /keys/k1 "
        "(Activity ID: 123)",
    )
    err = to_backend_error(exc, DATA_ATTEMPT)
    text = str(err)
    assert err.status == 403 and err.code == "AccessDenied"
    assert "permission denied" in text
    assert "Microsoft.KeyVault/managedHsm/roleAssignments/write/action" in text
    for part in ("data plane", "HSM 'contoso'", "scope '/keys/k1'", GUID, OID, "create role assignment n1"):
        assert part in text


def test_errors_keep_the_service_request_and_activity_ids() -> None:
    exc = http_error(500, "InternalError", "Something broke (Activity ID: 7d1e-42)")
    exc.response.headers = {"x-ms-request-id": "11111111-2222-4333-8444-555555555555"}
    text = str(to_backend_error(exc, DATA_ATTEMPT))
    assert text.endswith("[request id 11111111-2222-4333-8444-555555555555, activity id 7d1e-42]")
    # an id that is not id-shaped is not echoed (it could carry anything)
    exc = http_error(403, "Forbidden", "no (Activity ID: 9)")
    exc.response.headers = {"x-ms-request-id": "x\n::error::forged"}
    text = str(to_backend_error(exc, DATA_ATTEMPT))
    assert "forged" not in text and text.endswith("[activity id 9]")


def test_arm_authorization_failed_names_the_action() -> None:
    exc = http_error(
        403,
        "AuthorizationFailed",
        "The client 'x' does not have authorization to perform action "
        "'Microsoft.Authorization/roleAssignments/write' over scope '/subscriptions/s'",
    )
    attempt = Attempt("create role assignment n", "management", "arm", "/subscriptions/s")
    assert "it needs 'Microsoft.Authorization/roleAssignments/write'" in str(to_backend_error(exc, attempt))


def test_service_code_and_message_are_kept() -> None:
    exc = http_error(
        400,
        "MatchingRoleAssignmentExists",
        f"Role assignment 'abc' already adds role '{GUID}' to principal '{OID}' in scope '/'.",
    )
    assert error_code(exc) == "matchingroleassignmentexists"
    err = to_backend_error(exc, DATA_ATTEMPT)
    assert err.code == "MatchingRoleAssignmentExists" and err.status == 400
    assert "Role assignment 'abc' already adds role" in str(err)
    exists = http_error(
        409, "RoleAssignmentExists", "The role assignment already exists.", ResourceExistsError
    )
    assert error_code(exists) == "roleassignmentexists"


def test_error_without_json_body() -> None:
    exc = HttpResponseError(response=FakeResponse(502, "<html>bad gateway</html>", reason="Bad Gateway"))  # type: ignore[arg-type]
    err = to_backend_error(exc, DATA_ATTEMPT)
    assert err.status == 502 and "HTTP 502" in str(err)


def test_tokens_never_reach_messages() -> None:
    exc = http_error(401, "Unauthorized", f"token {JWT} rejected; header was Bearer abc.def")
    text = str(to_backend_error(exc, DATA_ATTEMPT))
    assert JWT not in text and "abc.def" not in text and "<redacted>" in text
    cred = ClientAuthenticationError(message=f"failed with client_secret=s3cr3t&x=1 token {JWT}")
    text = str(to_backend_error(cred, DATA_ATTEMPT))
    assert "s3cr3t" not in text and JWT not in text and "could not get an access token" in text
    assert redact("Authorization: Bearer xyz") == "Authorization: Bearer <redacted>"


def test_connection_errors() -> None:
    attempt = Attempt("list role definitions", "data", "contoso", "/", url="https://127.0.0.1:1")
    err = to_backend_error(ServiceRequestError("Connection refused"), attempt)
    assert "cannot reach the service at https://127.0.0.1:1" in str(err)


# -- discovery mode -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("full", "principals", "keys", "complete", "expected"),
    [
        (True, 1, 100, True, DiscoveryMode.FULL),
        (False, 3, None, False, DiscoveryMode.PRINCIPALS),  # keys not listed / not readable
        (False, 3, 2, False, DiscoveryMode.PRINCIPALS),  # stopped early: more keys than principals
        (False, 3, 1, True, DiscoveryMode.FULL),  # 1 key: 3 calls either way -> FULL
        (False, 5, 2, True, DiscoveryMode.FULL),
        (False, 5, 4, True, DiscoveryMode.PRINCIPALS),
    ],
)
def test_choose_mode(
    full: bool, principals: int, keys: int | None, complete: bool, expected: DiscoveryMode
) -> None:
    assert choose_mode(full=full, principals=principals, keys_seen=keys, keys_complete=complete) is expected


def test_discovery_describe() -> None:
    assert Discovery("contoso", DiscoveryMode.FULL, 2, 3).describe() == "contoso: full discovery (3 keys)"
    assert (
        Discovery("c", DiscoveryMode.PRINCIPALS, 1, None, "keys not readable").describe()
        == "c: principal discovery (1 principal; keys not readable)"
    )


# -- endpoints file -------------------------------------------------------------------------------


def _endpoints(tmp_path: Path, **over: Any) -> Path:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    data: dict[str, Any] = {
        "emulator": True,
        "tenant_id": "00000000-0000-0000-0000-000000000001",
        "hsms": {"contoso": "https://127.0.0.1:8443"},
        "arm": "https://localhost:8444",
        "graph": "https://[::1]:8445",
        "authority": "https://127.0.0.1:8446",
        "ca_cert": str(ca),
    }
    data.update(over)
    path = tmp_path / "endpoints.json"
    path.write_text(json.dumps({k: v for k, v in data.items() if v is not None}), encoding="utf-8")
    return path


def test_endpoints_to_settings(tmp_path: Path) -> None:
    settings = settings_from_endpoints(_endpoints(tmp_path))
    assert settings.hsm_urls == {"contoso": "https://127.0.0.1:8443"}
    assert settings.arm_base_url == "https://localhost:8444"
    assert settings.connection_verify == str(tmp_path / "ca.pem")
    assert settings.verify_challenge_resource is False
    assert settings.authority == "https://127.0.0.1:8446" and "emulator" in settings.label
    assert settings.credential is None  # signs in at the authority (no minted tokens)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("https://127.0.0.1:1", True),
        ("https://127.8.9.1", True),
        ("https://localhost", True),
        ("https://[::1]:5", True),
        ("https://10.0.0.1", False),
        ("https://contoso.managedhsm.azure.net", False),
        ("https://localhost.evil.com", False),
    ],
)
def test_loopback(url: str, loopback: bool) -> None:
    assert is_loopback_host(url_host(url)) is loopback


def test_emulator_refused_for_remote_urls(tmp_path: Path) -> None:
    path = _endpoints(tmp_path, hsms={"contoso": "https://contoso.managedhsm.azure.net"})
    with pytest.raises(
        StateError, match=r"endpoints.json: endpoints field 'hsms.contoso': .*loopback.*contoso"
    ):
        settings_from_endpoints(path)
    path = _endpoints(tmp_path, authority="https://login.microsoftonline.com")
    with pytest.raises(StateError, match=r"endpoints field 'authority': .*loopback"):
        settings_from_endpoints(path)


def test_emulator_needs_its_authority(tmp_path: Path) -> None:
    # Without it, a real sign-in at public Azure would send real tokens to loopback.
    with pytest.raises(StateError, match="endpoints field 'authority': missing"):
        settings_from_endpoints(_endpoints(tmp_path, authority=None))


def test_retired_identity_field_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="endpoints field 'identity': no longer supported"):
        read_endpoints(_endpoints(tmp_path, identity={"oid": OID, "groups": []}))


def test_remote_endpoints_sign_in_at_known_entra_hosts_only(tmp_path: Path) -> None:
    remote = {
        "emulator": False,
        "hsms": {"c": "https://c.managedhsm.azure.net"},
        "arm": "https://management.azure.com",
        "graph": "https://graph.microsoft.com",
    }
    path = _endpoints(tmp_path, **remote, authority=None)
    settings = settings_from_endpoints(path)
    assert settings.credential is None and settings.verify_challenge_resource is True
    assert settings_from_endpoints(
        _endpoints(tmp_path, **remote, authority="https://login.microsoftonline.us")
    )
    evil = _endpoints(tmp_path, **remote, authority="https://login.evil.example")
    with pytest.raises(
        StateError, match="'authority': refusing to sign in at .*--allow-host login.evil.example"
    ):
        settings_from_endpoints(evil)
    assert (
        settings_from_endpoints(evil, allow_hosts=["login.evil.example"]).authority
        == "https://login.evil.example"
    )


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"hsms": {"contoso": "http://127.0.0.1:1"}}, "hsms.contoso"),
        ({"arm": 5}, "arm"),
        ({"ca_cert": "/nonexistent/ca.pem"}, "ca_cert"),
        ({"authority": "http://127.0.0.1:1"}, "authority"),
        ({"tenant_id": "x"}, "tenant_id"),
        ({"emulator": "yes"}, "emulator"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_endpoints_name_file_and_field(tmp_path: Path, over: dict[str, Any], field: str) -> None:
    with pytest.raises(StateError, match=rf"endpoints.json: endpoints field '{field}'"):
        read_endpoints(_endpoints(tmp_path, **over))


def test_unreadable_endpoints(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="not found"):
        read_endpoints(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(StateError, match="bad.json: endpoints file is not JSON"):
        read_endpoints(bad)


# -- factory --------------------------------------------------------------------------------------


def test_retry_from_environ() -> None:
    retry = retry_from_environ({"HSMSYNC_RETRY_TOTAL": "2", "HSMSYNC_RETRY_BACKOFF": "0.01"})
    assert (retry.total, retry.backoff_factor, retry.status) == (2, 0.01, 2)
    with pytest.raises(HsmsyncError, match="HSMSYNC_RETRY_TOTAL"):
        retry_from_environ({"HSMSYNC_RETRY_TOTAL": "many"})


def test_timeouts_from_environ() -> None:
    assert timeouts_from_environ({}) == TimeoutSettings(connect=10.0, read=30.0, total=300.0)
    tuned = timeouts_from_environ(
        {"HSMSYNC_CONNECT_TIMEOUT": "2", "HSMSYNC_READ_TIMEOUT": "5.5", "HSMSYNC_CALL_TIMEOUT": "60"}
    )
    assert (tuned.connect, tuned.read, tuned.total) == (2.0, 5.5, 60.0)
    assert tuned.client_kwargs() == {"connection_timeout": 2.0, "read_timeout": 5.5}
    for value in ("0", "-1", "soon"):
        with pytest.raises(HsmsyncError, match=f"HSMSYNC_READ_TIMEOUT={value!r}"):
            timeouts_from_environ({"HSMSYNC_READ_TIMEOUT": value})


def test_real_azure_backend_does_not_import_identity_until_used() -> None:
    code = (
        "import sys; from hsmsync.backends.azure import make_azure_backend; "
        "b = make_azure_backend(endpoints=None, environ={}); "
        "print(b.describe(), 'azure.identity' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "live (Azure SDK) False"


def test_factory_with_endpoints(tmp_path: Path) -> None:
    backend = make_azure_backend(
        endpoints=_endpoints(tmp_path), environ={"HSMSYNC_PRINCIPAL_WAIT_SECONDS": "1"}
    )
    assert backend.settings.principal_wait_seconds == 1.0
    assert backend.describe() == "live (Azure SDK, emulator)"


def _unsigned(claims: dict[str, Any]) -> str:
    import base64

    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{payload}.sig"


def test_a_tokens_groups_count_on_the_data_plane_for_users_only() -> None:
    from hsmsync.backends.azure.caller import caller_from_token

    oid, group = "7C9E1A3B-5D7F-4B9D-8E2A-6C8E0A2C4E99", "5a5a5a5a-1111-4222-8333-444444444444"
    user = caller_from_token(_unsigned({"oid": oid, "groups": [group], "idtyp": "user"}))
    assert user is not None and user.data_ids == user.arm_ids == {oid.lower(), group}
    # An application's token may list groups too; the HSM data plane still ignores them.
    app = caller_from_token(_unsigned({"oid": oid, "groups": [group], "idtyp": "app", "appid": "x"}))
    assert app is not None and app.data_ids == {oid.lower()} and app.arm_ids == {oid.lower(), group}


def test_the_fast_character_check_refuses_exactly_what_the_rule_refuses() -> None:
    """Every request's URL is checked for a backslash, whitespace or a control character; ASCII
    URLs by one regex, which must refuse exactly the characters the per-character rule does."""
    from hsmsync.backends.azure.hosts import _has_unsafe_char, _unsafe_char

    for code in range(0x3000):  # ASCII (the regex) and beyond (the rule itself)
        ch = chr(code)
        assert _has_unsafe_char(f"https://h/{ch}x") == _unsafe_char(ch), hex(code)
