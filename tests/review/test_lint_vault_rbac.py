"""Vault rules for the move to Azure RBAC: HSM012 (a vault on access policies, with the
deadline), HSM013 (access policies left on a vault that uses RBAC), HSM014 (wildcard data
actions in a custom Azure role), and HSM005 over custom roles and the built-in catalog."""

from __future__ import annotations

from typing import Any

from hsmsync.core.state import AccessPolicy, ArmRoleDefinition, ArmState, LiveState, Permission
from tests.review.builders import RG, pid
from tests.review.test_lint_posture import VAULT, _doc, _hits, _live_vault


def _with_policy(live: LiveState) -> LiveState:
    vault = live.vaults["kv"]
    policy = AccessPolicy(object_id=pid("ops"), secrets=("get",))
    return live.model_copy(update={"vaults": {"kv": vault.model_copy(update={"access_policies": (policy,)})}})


def test_hsm012_names_the_deadline_for_a_vault_on_access_policies() -> None:
    assert _hits(_doc(), "HSM012") == [
        "vault kv uses access policies; the API versions that manage them retire on 27 February 2027: "
        "move it to Azure RBAC"
    ]
    assert _hits(_doc(vault_rbac=True), "HSM012") == []
    # The live model decides when known: declared rbac but still on access policies live.
    assert _hits(_doc(vault_rbac=True), "HSM012", _live_vault(False)) != []


def test_hsm013_access_policies_left_on_a_vault_that_uses_rbac() -> None:
    live = _with_policy(_live_vault(True))
    assert _hits(_doc(vault_rbac=True), "HSM013", live) == [
        "vault kv uses Azure RBAC but still holds 1 access policy: inactive, but misleading"
    ]
    assert _hits(_doc(vault_rbac=True), "HSM013", _live_vault(True)) == []
    assert _hits(_doc(), "HSM013", _with_policy(_live_vault(False))) == []  # in force, not stale


def _arm_role(**lists: Any) -> dict[str, Any]:
    return {"name": "Vault helper", "assignable_scopes": [RG], **lists}


def _with_arm_role(doc: dict[str, Any], role: dict[str, Any], scope: str = VAULT) -> dict[str, Any]:
    doc["arm_roles"] = {"helper": role}
    doc["teams"]["ops"]["management"] = [{"role": "helper", "scope": scope}]
    return doc


def test_hsm014_wildcard_data_actions_in_a_declared_or_live_custom_azure_role() -> None:
    wild = _with_arm_role(
        _doc(vault_rbac=True), _arm_role(data_actions=["Microsoft.KeyVault/vaults/secrets/*"])
    )
    assert _hits(wild, "HSM014") == [
        "custom Azure role 'Vault helper' grants wildcard data actions: Microsoft.KeyVault/vaults/secrets/*"
    ]
    exact = _arm_role(data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"])
    assert _hits(_with_arm_role(_doc(vault_rbac=True), exact), "HSM014") == []
    live_role = ArmRoleDefinition(
        name=pid("live-role"),
        role_name="Found live",
        permissions=(Permission(data_actions=("Microsoft.KeyVault/vaults/*",)),),
        assignable_scopes=(RG,),
    )
    live = _live_vault(True).model_copy(update={"arm": ArmState(role_definitions=(live_role,))})
    assert _hits(_doc(vault_rbac=True), "HSM014", live) == [
        "custom Azure role 'Found live' grants wildcard data actions: Microsoft.KeyVault/vaults/*"
    ]


def test_hsm005_covers_custom_azure_roles_and_catalog_roles_at_the_vault() -> None:
    writer = _arm_role(actions=["Microsoft.KeyVault/vaults/write"])
    assert _hits(_with_arm_role(_doc(), writer), "HSM005") != []
    reader = _arm_role(actions=["Microsoft.KeyVault/vaults/read"])
    assert _hits(_with_arm_role(_doc(), reader), "HSM005") == []
    # Key Vault Contributor (Microsoft.KeyVault/*) at the vault itself, by the vault: shorthand.
    doc = _doc()
    doc["teams"]["ops"]["management"] = [{"role": "Key Vault Contributor", "scope": "vault:kv"}]
    assert _hits(doc, "HSM005") != []
    doc["teams"]["ops"]["management"] = [{"role": "Key Vault Data Access Administrator", "scope": "vault:kv"}]
    assert _hits(doc, "HSM005") == []


def test_hsm005_weighs_a_condition_on_writing_the_vault() -> None:
    def hits(condition: str) -> list[str]:
        doc = _doc()
        entry = {"role": "Key Vault Contributor", "scope": "vault:kv", "condition": condition}
        doc["teams"]["ops"]["management"] = [entry]
        return _hits(doc, "HSM005")

    withheld = "!(ActionMatches{'Microsoft.KeyVault/vaults/write'})"
    assert hits(withheld) == []  # the condition withholds vaults/write: no escalation
    other = "!(ActionMatches{'Microsoft.KeyVault/vaults/delete'})"
    [finding] = hits(other)
    assert "(its condition does not restrict vaults/write)" in finding
    tagged = "@Resource[Microsoft.KeyVault/vaults:tags:env<$key_case_sensitive$>] StringEquals 'dev'"
    [finding] = hits(tagged)
    assert f"(under a condition hsmsync did not evaluate: {tagged})" in finding
