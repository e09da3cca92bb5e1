"""The checks `make test-compat-cli` runs, in order: each runs the real `az` against the emulator and
compares the exit code and JSON with what Azure gives for the same command (later checks use what
earlier ones created). Names say what is checked."""

from __future__ import annotations

import json

from tests.compat.azure_cli import (
    ADMINISTRATOR,
    ALICE,
    CLOUD,
    CRYPTO_USER,
    OPS,
    OUTSIDER_APP,
    PIPELINE,
    PIPELINE_APP,
    SUB,
    TENANT,
    Answer,
    AzureCli,
    Check,
    World,
)

DEFINITION_PREFIX = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"
FIXED_NAME = "11111111-2222-4333-8444-555555555555"
ADMIN_ASSIGNMENT = "e0c1d2a3-0000-4000-8000-000000000001"  # the pipeline's Administrator at `/`
ROTATOR = "hsmsync compat Key Rotator"
ROTATE = "Microsoft.KeyVault/managedHsm/keys/rotate/action"
READ = "Microsoft.KeyVault/managedHsm/keys/read/action"
WRITE = "Microsoft.KeyVault/managedHsm/keys/write/action"


def _sign_in(world: World, az: AzureCli, app: str, secret: str) -> object:
    az("cloud", "register", "-n", CLOUD, "--endpoint-resource-manager", world.emulator.arm_url).expect()
    az("cloud", "set", "-n", CLOUD).expect()
    return az("login", "--service-principal", "-u", app, "-p", secret, "--tenant", TENANT).expect()


def _definition(world: World, verb: str, *args: str) -> Answer:
    """`az keyvault role definition <verb> --hsm-name <the HSM> ...` (definitions take no `--id`)."""
    return world.az("keyvault", "role", "definition", verb, "--hsm-name", world.hsm_name, *args)


def _assignment(world: World, verb: str, *args: str, by_id: bool = False) -> Answer:
    """`az keyvault role assignment <verb> --hsm-name <the HSM> ...`, or `--id <its URL>`."""
    where = ("--id", world.hsm_url) if by_id else ("--hsm-name", world.hsm_name)
    return world.az("keyvault", "role", "assignment", verb, *where, *args)


# ----------------------------------------------------------------------- cloud, sign-in, account


def cloud_registered_from_the_metadata_endpoint(world: World) -> None:
    emu, az = world.emulator, world.az
    az("cloud", "register", "-n", CLOUD, "--endpoint-resource-manager", emu.arm_url).expect()
    cloud = az("cloud", "show", "-n", CLOUD).expect()
    endpoints = cloud["endpoints"]
    assert endpoints["activeDirectory"] == emu.authority_url, endpoints  # discovered, not given
    assert endpoints["activeDirectoryResourceId"] == "https://management.core.windows.net/", endpoints
    assert endpoints["microsoftGraphResourceId"] == emu.arm_url + "/", endpoints
    assert cloud["suffixes"]["mhsmDns"] == "", cloud["suffixes"]
    az("cloud", "set", "-n", CLOUD).expect()
    assert az("cloud", "show").expect()["isActive"] is True


def login_with_a_wrong_secret_is_refused(world: World) -> None:
    answer = world.az("login", "--service-principal", "-u", PIPELINE_APP, "-p", "wrong", "--tenant", TENANT)
    answer.expect(1)
    assert "AADSTS7000215" in answer.err, answer.err


def login_as_service_principal_lists_the_subscription(world: World) -> None:
    secret = world.secrets["pipeline"]
    subs = world.az("login", "--service-principal", "-u", PIPELINE_APP, "-p", secret, "--tenant", TENANT)
    (sub,) = subs.expect()
    assert (sub["id"], sub["tenantId"], sub["cloudName"], sub["isDefault"]) == (SUB, TENANT, CLOUD, True)
    assert sub["user"] == {"name": PIPELINE_APP, "type": "servicePrincipal"}
    assert sub["state"] == "Enabled"


def account_show_and_list_refresh(world: World) -> None:
    shown = world.az("account", "show").expect()
    assert (shown["id"], shown["tenantId"]) == (SUB, TENANT), shown
    refreshed = world.az("account", "list", "--refresh").expect()  # reads /subscriptions again
    assert [s["id"] for s in refreshed] == [SUB]


def tenants_through_az_rest(world: World) -> None:
    body = world.az("rest", "--method", "get", "--url", "/tenants?api-version=2022-12-01").expect()
    assert [t["tenantId"] for t in body["value"]] == [TENANT]
    assert body["value"][0]["id"] == f"/tenants/{TENANT}"


# --------------------------------------------------------------------------------------- Graph


def ad_user_show_by_principal_name(world: World) -> None:
    user = world.az("ad", "user", "show", "--id", "alice@contoso.com").expect()
    assert (user["id"], user["userPrincipalName"]) == (ALICE, "alice@contoso.com")


def ad_group_show_by_id(world: World) -> None:
    group = world.az("ad", "group", "show", "-g", OPS).expect()
    assert (group["id"], group["displayName"]) == (OPS, "Ops")


def ad_sp_show_by_application_id(world: World) -> None:
    sp = world.az("ad", "sp", "show", "--id", PIPELINE_APP).expect()  # servicePrincipalNames/any(...)
    assert (sp["id"], sp["appId"]) == (PIPELINE, PIPELINE_APP)


def ad_user_show_unknown_is_not_found(world: World) -> None:
    answer = world.az("ad", "user", "show", "--id", "bob@contoso.com")
    answer.expect(3)  # the CLI's exit code for a resource that does not exist
    assert "does not exist" in answer.err, answer.err


# ---------------------------------------------------------------------------- role definitions


def definition_list_shows_the_built_in_roles(world: World) -> None:
    roles = _definition(world, "list").expect()
    names = {r["roleName"] for r in roles}
    assert {"Managed HSM Administrator", "Managed HSM Crypto User", "Managed HSM Crypto Auditor"} <= names
    assert {r["roleType"] for r in roles} == {"AKVBuiltInRole"}
    assert all(r["id"] == DEFINITION_PREFIX + r["name"] for r in roles)


def definition_show_built_in(world: World) -> None:
    role = _definition(world, "show", "-n", ADMINISTRATOR).expect()
    assert (role["roleName"], role["assignableScopes"]) == ("Managed HSM Administrator", ["/"])


def definition_create_custom(world: World) -> None:
    spec = {"roleName": ROTATOR, "description": "rotates keys", "dataActions": [READ, ROTATE]}
    path = world.work / "role.json"
    path.write_text(json.dumps(spec))
    role = _definition(world, "create", "--role-definition", f"@{path}").expect()
    assert (role["roleName"], role["roleType"], role["description"]) == (
        ROTATOR,
        "CustomRole",
        "rotates keys",
    )
    assert role["permissions"][0]["dataActions"] == [READ, ROTATE]
    assert role["id"] == DEFINITION_PREFIX + role["name"]
    world.notes["custom"] = role["name"]


def definition_list_custom_only(world: World) -> None:
    roles = _definition(world, "list", "--custom-role-only", "true").expect()
    assert [(r["roleName"], r["name"]) for r in roles] == [(ROTATOR, world.notes["custom"])]


def definition_update_then_show(world: World) -> None:
    custom = world.notes["custom"]
    spec = {
        "name": custom,
        "roleName": ROTATOR,
        "description": "rotates, writes",
        "dataActions": [READ, ROTATE, WRITE],
    }
    updated = _definition(world, "update", "--role-definition", json.dumps(spec)).expect()
    assert updated["name"] == custom
    assert updated["permissions"][0]["dataActions"] == [READ, ROTATE, WRITE]
    assert _definition(world, "show", "-n", custom).expect()["description"] == "rotates, writes"


def definition_update_of_a_built_in_role_is_refused(world: World) -> None:
    spec = {"name": ADMINISTRATOR, "roleName": "mine now", "dataActions": [READ]}
    answer = _definition(world, "update", "--role-definition", json.dumps(spec))
    answer.expect(1)
    assert "BadParameter" in answer.err, answer.err


# ---------------------------------------------------------------------------- role assignments


def _listed(world: World, *args: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = _assignment(world, "list", *args, by_id=True).expect()
    return found


def assignment_create_for_a_user_by_principal_name(world: World) -> None:
    created = _assignment(
        world,
        "create",
        "--role",
        "Managed HSM Crypto User",
        "--assignee",
        "alice@contoso.com",
        "--scope",
        "/keys/k1",
    ).expect()
    principal = (created["principalId"], created["principalName"], created["principalType"])
    assert principal == (ALICE, "alice@contoso.com", "User"), created
    assert (created["roleName"], created["scope"]) == ("Managed HSM Crypto User", "/keys/k1")
    assert created["id"] == f"/providers/Microsoft.Authorization/roleAssignments/{created['name']}"
    world.notes["alice"] = created["name"]


def assignment_create_custom_role_for_a_group_with_a_name(world: World) -> None:
    args = ("--role", ROTATOR, "--assignee-object-id", OPS, "--scope", "/keys", "--name", FIXED_NAME)
    created = _assignment(world, "create", *args, by_id=True).expect()
    assert (created["name"], created["principalName"], created["principalType"]) == (
        FIXED_NAME,
        "Ops",
        "Group",
    )
    assert created["roleDefinitionId"] == DEFINITION_PREFIX + world.notes["custom"]
    assert created["roleName"] == ROTATOR


def assignment_create_with_a_taken_name_is_refused(world: World) -> None:
    args = ("--role", CRYPTO_USER, "--assignee-object-id", ALICE, "--scope", "/keys", "--name", FIXED_NAME)
    answer = _assignment(world, "create", *args, by_id=True)
    answer.expect(1)
    assert "RoleAssignmentExists" in answer.err, answer.err


def assignment_create_with_an_unknown_role_is_refused(world: World) -> None:
    answer = _assignment(
        world, "create", "--role", "No Such Role", "--assignee-object-id", ALICE, "--scope", "/"
    )
    answer.expect(1)
    assert "Unknown role" in answer.err, answer.err


def assignment_list_resolves_roles_and_principals(world: World) -> None:
    listed = {a["name"]: a for a in _listed(world)}  # at `/`: those at `/` and `/keys`
    assert set(listed) == {ADMIN_ASSIGNMENT, FIXED_NAME}, listed
    assert listed[FIXED_NAME]["roleName"] == ROTATOR, listed
    admin = listed[ADMIN_ASSIGNMENT]
    # A service principal is shown by its first servicePrincipalName (its appId), from getByIds.
    shown = (admin["roleName"], admin["principalName"], admin["principalType"])
    assert shown == ("Managed HSM Administrator", PIPELINE_APP, "ServicePrincipal"), admin


def assignment_list_by_application_id(world: World) -> None:
    mine = _listed(world, "--assignee", PIPELINE_APP)
    assert [(a["name"], a["principalId"]) for a in mine] == [(ADMIN_ASSIGNMENT, PIPELINE)]


def assignment_list_by_scope_and_role(world: World) -> None:
    found = _listed(world, "--scope", "/keys/k1", "--role", "Managed HSM Crypto User")
    assert [a["name"] for a in found] == [world.notes["alice"]]


def assignment_delete_by_name(world: World) -> None:
    _assignment(world, "delete", "-n", FIXED_NAME, "--scope", "/keys").expect()
    assert FIXED_NAME not in {a["name"] for a in _listed(world)}


def assignment_delete_by_assignee(world: World) -> None:
    _assignment(world, "delete", "--assignee", "alice@contoso.com", "--scope", "/keys/k1").expect()
    assert world.notes["alice"] not in {a["name"] for a in _listed(world, "--scope", "/keys/k1")}


def assignment_delete_by_ids(world: World) -> None:
    args = ("--role", CRYPTO_USER, "--assignee-object-id", OPS, "--scope", "/")
    created = _assignment(world, "create", *args, by_id=True).expect()
    _assignment(world, "delete", "--ids", created["id"], "--scope", "/", by_id=True).expect()
    assert created["name"] not in {a["name"] for a in _listed(world)}


def definition_delete_then_show_is_not_found(world: World) -> None:
    custom = world.notes["custom"]
    _definition(world, "delete", "-n", custom).expect()
    answer = _definition(world, "show", "-n", custom)
    answer.expect(3)
    assert "RoleDefinitionNotFound" in answer.err, answer.err


def definition_delete_of_an_absent_role_is_a_404_the_client_accepts(world: World) -> None:
    seen = len(world.emulator.request_log)
    _definition(world, "delete", "-n", world.notes["custom"]).expect()
    log = world.emulator.request_log[seen:]
    deletes = [
        status for method, _, status in log if method == "DELETE" and status != 401
    ]  # not the challenge
    assert deletes == [404], log


# ------------------------------------------------------------------------------- authorization


def outsider_signs_in_but_may_not_read_assignments(world: World) -> None:
    _sign_in(world, world.outsider, OUTSIDER_APP, world.secrets["outsider"])
    answer = world.outsider("keyvault", "role", "assignment", "list", "--id", world.hsm_url)
    answer.expect(1)
    assert "AccessDenied" in answer.err, answer.err


def outsider_may_not_create_assignments(world: World) -> None:
    before = len(world.emulator.state().hsms["hsm1"].role_assignments)
    args = ("--id", world.hsm_url, "--role", CRYPTO_USER, "--assignee-object-id", ALICE, "--scope", "/")
    answer = world.outsider("keyvault", "role", "assignment", "create", *args)
    answer.expect(1)
    assert "AccessDenied" in answer.err, answer.err
    assert len(world.emulator.state().hsms["hsm1"].role_assignments) == before


def logout_then_commands_need_login(world: World) -> None:
    world.az("logout").expect()
    answer = world.az("account", "show")
    answer.expect(1)
    assert "az login" in answer.err, answer.err


def emulator_answered_no_5xx(world: World) -> None:
    errors = [entry for entry in world.emulator.request_log if entry[2] >= 500]
    assert not errors, errors


CHECKS: list[tuple[str, Check]] = [
    (check.__name__, check)
    for check in (
        cloud_registered_from_the_metadata_endpoint,
        login_with_a_wrong_secret_is_refused,
        login_as_service_principal_lists_the_subscription,
        account_show_and_list_refresh,
        tenants_through_az_rest,
        ad_user_show_by_principal_name,
        ad_group_show_by_id,
        ad_sp_show_by_application_id,
        ad_user_show_unknown_is_not_found,
        definition_list_shows_the_built_in_roles,
        definition_show_built_in,
        definition_create_custom,
        definition_list_custom_only,
        definition_update_then_show,
        definition_update_of_a_built_in_role_is_refused,
        assignment_create_for_a_user_by_principal_name,
        assignment_create_custom_role_for_a_group_with_a_name,
        assignment_create_with_a_taken_name_is_refused,
        assignment_create_with_an_unknown_role_is_refused,
        assignment_list_resolves_roles_and_principals,
        assignment_list_by_application_id,
        assignment_list_by_scope_and_role,
        assignment_delete_by_name,
        assignment_delete_by_assignee,
        assignment_delete_by_ids,
        definition_delete_then_show_is_not_found,
        definition_delete_of_an_absent_role_is_a_404_the_client_accepts,
        outsider_signs_in_but_may_not_read_assignments,
        outsider_may_not_create_assignments,
        logout_then_commands_need_login,
        emulator_answered_no_5xx,
    )
]
