"""`hsmsync migrate` against a state file: the report in three formats, the manifest change, the
lossy case refused until accepted, the staged apply, its refusals and the rollback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from hsmsync.backends.file import FileStateBackend
from hsmsync.core.errors import HsmsyncError
from hsmsync.core.plan import Change, Kind
from hsmsync.core.results import Outcome
from hsmsync.core.state import AccessPolicy, ArmRoleAssignment, ArmState
from hsmsync.migration_checks import live_granted
from hsmsync_files.statefile import read_state_file, write_state_file
from tests.conftest import CONTOSO, run_cli
from tests.vaults import (
    AUDITOR,
    MANIFEST,
    PIPELINE,
    SECRETS_APP,
    SECURITY,
    SIGNER,
    SUB,
    VAULT_ID,
    executor_owner,
    vault_state,
)

STATE = ("--state", "state.json")


@pytest.fixture
def here(tmp_path: Path) -> Path:
    write_state_file(tmp_path / "state.json", vault_state(arm=executor_owner()))
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST)
    return tmp_path


def _vault(here: Path) -> tuple[bool, int, int]:
    state = read_state_file(here / "state.json")
    vault = state.vaults["payments-kv"]
    return vault.enable_rbac_authorization, len(vault.access_policies), len(state.arm.role_assignments)


def test_report_lists_identities_permissions_and_proposed_roles_in_three_formats(here: Path) -> None:
    text = run_cli("migrate", "--report", *STATE, cwd=here)
    assert text.exit_code == 0, text.stderr
    assert "Vault payments-kv" in text.stdout and "4 identities" in text.stdout
    assert "orders-api (a0000000-0000-4000-8000-000000000001)" in text.stdout
    assert "Key Vault Secrets User" in text.stdout and "Key Vault Crypto Officer" in text.stdout
    assert "gained:      keys/list" in text.stdout  # the signer's custom role: keys/read is get and list
    body = json.loads(run_cli("migrate", "--report", "--format", "json", *STATE, cwd=here).stdout)
    assert body["kind"] == "migrate" and body["format_version"] == 1  # the JSON outputs' envelope
    (vault,) = body["vaults"]
    by_name = {i["principal"]: i for i in vault["identities"]}
    assert by_name["orders-api"]["roles"][0]["role_id"] == "4633458b-17de-408a-b874-0445c86b69e6"
    assert by_name["release-signer"]["roles"][0]["builtin"] is False
    assert by_name["release-signer"]["gained"] == ["keys/list"] and by_name["release-signer"]["lost"] == []
    markdown = run_cli("migrate", "--report", "--format", "markdown", *STATE, cwd=here).stdout
    cells = [t.content for t in MarkdownIt().enable("table").parse(markdown) if t.type == "inline"]
    assert "orders-api" in cells and "secrets/get, secrets/list" in cells
    assert _vault(here) == (False, 4, 1)  # a report changes nothing


def test_the_proposal_is_a_patch_and_write_edits_the_manifest_keeping_comments(here: Path) -> None:
    before = (here / "hsmsync.yaml").read_text()
    patch = run_cli("migrate", *STATE, cwd=here)
    assert patch.exit_code == 0, patch.stderr
    assert "-    access_policies:" in patch.stdout and "+    rbac: true" in patch.stdout
    assert (here / "hsmsync.yaml").read_text() == before  # only --write writes
    written = run_cli("migrate", "--write", *STATE, cwd=here)
    assert written.exit_code == 0, written.stderr
    after = (here / "hsmsync.yaml").read_text()
    assert "# The payments vault" in after and "# the pipeline that runs hsmsync" in after
    assert "access_policies" not in after
    validated = run_cli("validate", cwd=here)
    assert validated.exit_code == 0, validated.stderr
    plan = run_cli("plan", *STATE, cwd=here)
    assert "Key Vault Secrets User -> orders-api" in plan.stdout
    nothing = run_cli("migrate", *STATE, cwd=here)  # the manifest already says rbac: true
    assert nothing.exit_code == 0 and "No vault to migrate" in nothing.stdout


def test_a_lossy_mapping_is_refused_until_the_manifest_accepts_the_loss(here: Path) -> None:
    manifest = here / "hsmsync.yaml"
    no_custom = MANIFEST.replace(
        "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n",
        "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n    migration: {custom_roles: false}\n",
    )
    manifest.write_text(no_custom)
    refused = run_cli("migrate", "--write", *STATE, cwd=here)
    assert refused.exit_code == 1
    assert "refused: the move would take access away" in refused.stderr
    assert "release-signer: keys/get, keys/sign" in refused.stderr
    assert manifest.read_text() == no_custom  # nothing written
    accepting = no_custom.replace(
        "    migration: {custom_roles: false}\n",
        "    migration:\n      custom_roles: false\n      accept_loss:\n"
        "        release-signer: [keys/get, keys/sign]\n"
        "        auditor: [keys/list, secrets/list, certificates/list]\n"
        "        security-team: [secrets/set, certificates/import]\n",
    )
    manifest.write_text(accepting)
    accepted = run_cli("migrate", "--write", *STATE, cwd=here)
    assert accepted.exit_code == 0, accepted.stderr
    assert "(accepted: keys/get, keys/sign)" in accepted.stdout
    applied = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert applied.exit_code == 0, applied.stderr
    assert "release-signer: keeps -; loses (accepted) keys/get, keys/sign" in applied.stdout


def test_apply_runs_the_five_stages_then_plan_is_empty(here: Path) -> None:
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    applied = run_cli("migrate", "--apply", "--caller", "pipeline", "--settle", "0.2", *STATE, cwd=here)
    assert applied.exit_code == 0, applied.stderr
    assert "waiting 0.2s for them to reach the data plane" in applied.stdout
    stages = [line.split(":")[0] for line in applied.stdout.splitlines() if line.startswith("stage ")]
    assert stages == [f"stage {n}/5" for n in range(1, 6)]
    assert (
        "needs Microsoft.KeyVault/vaults/write and Microsoft.Authorization/roleAssignments/write"
        in applied.stdout
    )
    assert _vault(here) == (True, 0, 6)  # the executor's Owner and five new assignments
    assert run_cli("plan", "--detailed-exitcode", *STATE, cwd=here).exit_code == 0
    again = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert again.exit_code == 0 and "Nothing to migrate" in again.stdout


def test_apply_refuses_a_manifest_whose_assignments_take_access_away(here: Path) -> None:
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    manifest = here / "hsmsync.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("      - orders-api\n", "      - auditor\n"))  # a reviewer's slip
    refused = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert refused.exit_code == 1
    assert "orders-api: secrets/get, secrets/list" in refused.stderr
    assert _vault(here) == (False, 4, 1)  # nothing created, nothing switched


def test_apply_refuses_an_executor_who_may_not_switch_and_an_unknown_one(here: Path) -> None:
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    unknown = run_cli("migrate", "--apply", *STATE, cwd=here)
    assert unknown.exit_code == 1 and "give --caller" in unknown.stderr
    weak = run_cli("migrate", "--apply", "--caller", "auditor", *STATE, cwd=here)
    assert weak.exit_code == 1
    assert f"executor {AUDITOR} lacks Microsoft.KeyVault/vaults/write" in weak.stderr
    assert "nothing was switched" in weak.stderr
    assert _vault(here) == (False, 4, 1)


def test_rollback_switches_back_to_the_policies_while_they_exist(here: Path) -> None:
    state = vault_state(rbac=True, arm=executor_owner())
    write_state_file(here / "state.json", state)
    back = run_cli("migrate", "--rollback", "payments-kv", *STATE, cwd=here)
    assert back.exit_code == 0, back.stderr
    assert "back on its 4 access policies" in back.stdout
    assert _vault(here)[0] is False


def test_bad_input_names_the_field(here: Path) -> None:
    unknown = run_cli("migrate", "--vault", "payments", *STATE, cwd=here)
    assert unknown.exit_code == 1 and "unknown vault 'payments'" in unknown.stderr
    (here / "hsmsync.yaml").write_text(
        MANIFEST.replace(
            "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n",
            "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n"
            "    migration: {accept_loss: {auditor: [keys/lst]}}\n",
        )
    )
    bad = run_cli("migrate", *STATE, cwd=here)
    assert bad.exit_code == 1
    assert (
        "hsmsync.yaml:18: vaults.payments-kv.migration.accept_loss.auditor[0]" in bad.stderr
        and "'keys/lst' is not an access-policy permission" in bad.stderr
    )
    assert "Traceback" not in bad.stderr
    (here / "hsmsync.yaml").write_text(
        MANIFEST.replace(
            "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n",
            "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n"
            "    migration: {accept_loss: {auditors: [keys/list]}}\n",
        )
    )
    stranger = run_cli("validate", cwd=here)
    assert stranger.exit_code == 1
    assert "migration.accept_loss.auditors: undeclared principal 'auditors'" in stranger.stderr


def test_undeclared_identities_are_named_not_dropped(here: Path) -> None:
    extra = ArmRoleAssignment(
        name="e0000000-0000-4000-8000-000000000002",
        scope=f"/subscriptions/{SUB}",
        role_definition_id="8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        principal_id=PIPELINE,
    )
    state = vault_state(arm=ArmState(role_assignments=(*executor_owner().role_assignments, extra)))
    vault = state.vaults["payments-kv"]
    stranger = vault.access_policies[0].model_copy(
        update={"object_id": "f0000000-0000-4000-8000-00000000000f"}
    )
    vault = vault.model_copy(update={"access_policies": (*vault.access_policies, stranger)})
    write_state_file(here / "state.json", state.model_copy(update={"vaults": {"payments-kv": vault}}))
    refused = run_cli("migrate", *STATE, cwd=here)
    assert refused.exit_code == 1
    assert "f0000000-0000-4000-8000-00000000000f" in refused.stderr and "declare each under" in refused.stderr
    assert SECRETS_APP in refused.stdout and VAULT_ID in refused.stdout  # the proposal is still shown


def test_the_change_touches_only_the_migrations_lines(tmp_path: Path) -> None:
    """On the Contoso manifest (aligned flow maps, comments): the patch removes the access policies
    and adds `rbac: true` and the new entries; every other line stays byte for byte."""
    for name in ("hsmsync.yaml", "live-as-tutorial.json"):
        shutil.copy(CONTOSO / name, tmp_path / name)
    before = (tmp_path / "hsmsync.yaml").read_text()
    result = run_cli("migrate", "--write", "--state", "live-as-tutorial.json", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    after = (tmp_path / "hsmsync.yaml").read_text()
    removed = [line for line in before.splitlines() if line not in after.splitlines()]
    assert removed == [
        "    access_policies:",
        "      security-team: {keys: [backup, create, delete, get, import, list, restore], secrets: [all]}",
        "      auditors:      {keys: [list], secrets: [list]}",
        "      app-vm:        {keys: [sign], secrets: [get]}",
    ]
    assert after.startswith(before[: before.index("    access_policies:")])
    assert run_cli("validate", cwd=tmp_path).exit_code == 0


def test_a_flow_style_vault_is_written_through_the_round_trip(here: Path) -> None:
    manifest = here / "hsmsync.yaml"
    start, end = MANIFEST.index("vaults:\n"), MANIFEST.index("teams:\n")
    flow = (
        MANIFEST[:start]
        + (
            "vaults: {payments-kv: {url: 'https://payments-kv.vault.azure.net', "
            f"resource_id: '{VAULT_ID}', access_policies: {{"
            "orders-api: {secrets: [get, list]}, release-signer: {keys: [get, sign]}, "
            "security-team: {keys: [all], secrets: [set], certificates: [import]}, "
            "auditor: {keys: [list], secrets: [list], certificates: [list]}}}}\n"
        )
        + MANIFEST[end:]
    )
    manifest.write_text(flow)
    assert run_cli("validate", cwd=here).exit_code == 0
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    assert "# The payments vault" in manifest.read_text()  # the round trip keeps comments
    assert run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here).exit_code == 0
    assert _vault(here) == (True, 0, 6)


def test_a_failed_stage_stops_and_says_how_to_roll_back(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A switch that does not take (stage 4 reads the vault back on access policies): the run stops
    before removing anything and says how to switch back; the policies are all still there."""
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    monkeypatch.setattr(FileStateBackend, "switch_vault_permission_model", lambda self, name, rid, rbac: None)
    failed = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert failed.exit_code == 1
    assert "stage 4 failed: the vault does not read back as Azure RBAC" in failed.stderr
    assert "hsmsync migrate --rollback payments-kv" in failed.stderr
    assert (
        "az keyvault update --name payments-kv --resource-group AppRG --enable-rbac-authorization false"
        in (failed.stderr)
    )
    assert "stage 3/5" in failed.stdout and "stage 5/5" not in failed.stdout
    assert _vault(here) == (False, 4, 6)  # assignments made, policies untouched


def test_custom_roles_with_a_long_common_prefix_keep_their_own_keys(tmp_path: Path) -> None:
    """Two identities whose custom roles share the first hundred characters of their slug: each
    must get its own arm_roles entry and team (one truncated key for both gave the second identity
    the first one's role: access gained and lost that the proposal did not show)."""
    common = ("backup", "create", "delete", "get", "import", "list")
    state = vault_state(
        AccessPolicy(object_id=SIGNER, certificates=common, keys=("sign",)),
        AccessPolicy(object_id=SECURITY, certificates=common, keys=("verify", "purge")),
        arm=executor_owner(),
    )
    write_state_file(tmp_path / "state.json", state)
    start, end = MANIFEST.index("    access_policies:\n"), MANIFEST.index("teams:\n")
    listed = ", ".join(common)
    (tmp_path / "hsmsync.yaml").write_text(
        MANIFEST[:start]
        + "    access_policies:\n"
        + f"      release-signer: {{certificates: [{listed}], keys: [sign]}}\n"
        + f"      security-team: {{certificates: [{listed}], keys: [verify, purge]}}\n"
        + MANIFEST[end:]
    )
    written = run_cli("migrate", "--write", *STATE, cwd=tmp_path)
    assert written.exit_code == 0, written.stderr
    applied = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=tmp_path)
    assert applied.exit_code == 0, applied.stderr
    live = read_state_file(tmp_path / "state.json")
    granted = live_granted(live, VAULT_ID)
    assert {"keys/verify", "keys/purge"} <= granted[SECURITY] and "keys/sign" not in granted[SECURITY]
    assert "keys/sign" in granted[SIGNER] and not {"keys/verify", "keys/purge"} & granted[SIGNER]


def test_new_entries_never_land_on_a_different_team_or_role_of_the_same_key(here: Path) -> None:
    """The manifest already has a team and a custom role under the keys the migration would use,
    meaning something else: the identities must get the proposed roles, not those entries' (joining
    the team made orders-api a Key Vault Administrator while the proposal showed Secrets User)."""
    manifest = here / "hsmsync.yaml"
    manifest.write_text(
        MANIFEST
        + "  payments-kv-key-vault-secrets-user:\n"
        + "    members: [auditor]\n"
        + f"    management: [{{role: Key Vault Administrator, scope: {VAULT_ID}}}]\n"
        + "  signers:\n"
        + "    members: [auditor]\n"
        + f"    management: [{{role: payments-kv-keys-get-keys-sign, scope: {VAULT_ID}}}]\n"
        + "arm_roles:\n"
        + "  payments-kv-keys-get-keys-sign:\n"
        + "    name: every key action\n"
        + "    data_actions: [Microsoft.KeyVault/vaults/keys/*]\n"
        + f"    assignable_scopes: [{VAULT_ID}]\n"
    )
    written = run_cli("migrate", "--write", *STATE, cwd=here)
    assert written.exit_code == 0, written.stderr
    applied = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert applied.exit_code == 0, applied.stderr
    granted = live_granted(read_state_file(here / "state.json"), VAULT_ID)
    assert granted[SECRETS_APP] == {"secrets/get", "secrets/list"}
    assert granted[SIGNER] == {"keys/get", "keys/list", "keys/sign"}


@pytest.mark.parametrize("name", ["yes", "off"])
def test_a_principal_whose_name_yaml_1_1_reads_as_another_type_is_written_quoted(
    here: Path, name: str
) -> None:
    """The manifest is read as YAML 1.1: a principal named `yes` written plain in a team's members
    is the boolean true (the write was refused; a valid manifest could not be migrated)."""
    manifest = here / "hsmsync.yaml"
    manifest.write_text(
        MANIFEST.replace("  orders-api: {type", f"  '{name}': {{type").replace(
            "      orders-api: {secrets", f"      '{name}': {{secrets"
        )
    )
    written = run_cli("migrate", "--write", *STATE, cwd=here)
    assert written.exit_code == 0, written.stderr
    plan = run_cli("plan", *STATE, cwd=here)
    assert f"Key Vault Secrets User -> {name} (ServicePrincipal)" in plan.stdout, plan.stderr


def test_a_run_stopped_at_stage_5_resumes_there_as_its_message_says(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removing the policies fails after the switch: the message says to run migrate --apply again,
    and that run must remove them (it said "Nothing to migrate" and left the policies, ready to
    count again the moment anyone switched the vault back)."""
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    real = FileStateBackend.apply_change

    def policies_fail(self: FileStateBackend, change: Change) -> Outcome:
        if change.kind is Kind.ACCESS_POLICY:
            raise HsmsyncError("the network went away")
        return real(self, change)

    monkeypatch.setattr(FileStateBackend, "apply_change", policies_fail)
    failed = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert failed.exit_code == 1
    assert "stage 5 failed: the network went away" in failed.stderr
    assert "run migrate --apply again" in failed.stderr
    assert _vault(here) == (True, 4, 6)
    monkeypatch.setattr(FileStateBackend, "apply_change", real)
    again = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert again.exit_code == 0, again.stderr
    assert "resuming at stage 4" in again.stdout and "stage 5/5" in again.stdout
    assert _vault(here) == (True, 0, 6)


APP = "c2000000-0000-4000-8000-000000000002"


def _add_compound_entry(here: Path, app: str = APP) -> None:
    """Someone adds `security-team via app` to the vault (behind the run's back)."""
    state = read_state_file(here / "state.json")
    vault = state.vaults["payments-kv"]
    entry = AccessPolicy(object_id=SECURITY, application_id=app, keys=("sign",))
    policies = {"access_policies": (*vault.access_policies, entry)}
    vaults = {**state.vaults, "payments-kv": vault.model_copy(update=policies)}
    write_state_file(here / "state.json", state.model_copy(update={"vaults": vaults}))


def _add_compound_entry_on_first_role_change(monkeypatch: pytest.MonkeyPatch, here: Path) -> None:
    """Someone adds `security-team via APP` to the vault while the run is in stage 1."""
    real = FileStateBackend.apply_change
    added: list[bool] = []

    def apply_then_add(self: FileStateBackend, change: Change) -> Outcome:
        outcome = real(self, change)
        if not added and change.kind is Kind.ROLE_ASSIGNMENT:
            added.append(True)
            _add_compound_entry(here)
        return outcome

    monkeypatch.setattr(FileStateBackend, "apply_change", apply_then_add)


def test_a_compound_entry_added_during_the_run_stops_it_before_the_switch(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stage 0 checked the policies as they were; an entry added while the run waits for its
    assignments was never checked: switching would drop it unseen, so the run stops before the
    switch, naming it and the accept_loss line that would allow it."""
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    _add_compound_entry_on_first_role_change(monkeypatch, here)
    stopped = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert stopped.exit_code == 1, stopped.stdout
    assert "stage 2 failed: the access policies changed during the run" in stopped.stderr
    assert f"security-team via application {APP}" in stopped.stderr
    assert "nothing was switched" in stopped.stderr
    assert _vault(here) == (False, 5, 6)  # not switched, every entry (the new one too) still there


def test_a_compound_entry_added_after_the_switch_is_not_removed_unseen(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry that appears after the switch (between stages 3 and 4) is not silently removed at
    stage 5: stage 4 stops and says to roll back (the policies, the new one too, are all there)."""
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    real = FileStateBackend.switch_vault_permission_model

    def switch_then_add(self: FileStateBackend, name: str, rid: str, rbac: bool) -> None:
        real(self, name, rid, rbac)
        _add_compound_entry(here)

    monkeypatch.setattr(FileStateBackend, "switch_vault_permission_model", switch_then_add)
    stopped = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert stopped.exit_code == 1, stopped.stdout
    assert "stage 4 failed: the access policies changed during the run" in stopped.stderr
    assert "hsmsync migrate --rollback payments-kv" in stopped.stderr
    assert _vault(here) == (True, 5, 6)  # nothing removed


APP2, APP3 = "c3000000-0000-4000-8000-000000000003", "c4000000-0000-4000-8000-000000000004"
AUDITOR_LINE = "      auditor: {keys: [list], secrets: [list], certificates: [list]}\n"


@pytest.mark.parametrize(
    ("accept_loss", "still_refused"),
    [
        ("        security-team: [via " + APP3 + "]\n", [APP, APP2]),  # names another application
        ("        security-team: [via " + APP + "]\n", [APP2]),  # one of its two compound entries
        ("        auditor: [via " + APP + "]\n", [APP, APP2]),  # the right application, the wrong user
        ("        security-team: [keys/sign, keys/get]\n", [APP, APP2]),  # its permissions, not the entry
    ],
)
def test_accepting_a_compound_loss_takes_the_exact_user_and_application(
    here: Path, accept_loss: str, still_refused: list[str]
) -> None:
    """Two compound entries of the security team: only `security-team: [via <that application>]`
    accepts each; every other wording leaves it refused, naming the line that would accept it."""
    for app in (APP, APP2):
        _add_compound_entry(here, app)
    manifest = here / "hsmsync.yaml"
    manifest.write_text(
        MANIFEST.replace(AUDITOR_LINE, AUDITOR_LINE + "    migration:\n      accept_loss:\n" + accept_loss)
    )
    refused = run_cli("migrate", "--write", *STATE, cwd=here)
    assert refused.exit_code == 1, refused.stdout
    for app in (APP, APP2):
        assert (f"security-team via application {app}" in refused.stderr) is (app in still_refused), (
            refused.stderr
        )
    assert f"security-team: [via {still_refused[0]}]" in refused.stderr
    assert "access_policies" in manifest.read_text()  # nothing written


def test_stage_1_makes_only_the_vaults_changes_and_names_the_others_it_left(here: Path) -> None:
    """A pending subscription-level assignment that happens to be in the plan is not the migration's
    to make: stage 1 leaves it (and says so), `hsmsync apply` makes it."""
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    manifest = here / "hsmsync.yaml"
    subscription = f"/subscriptions/{SUB}"
    observers = f"  observers:\n    members: [auditor]\n    management:\n      - {{role: Reader, scope: {subscription}}}\n"
    manifest.write_text(manifest.read_text().replace("teams:\n", "teams:\n" + observers, 1))
    applied = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert applied.exit_code == 0, applied.stderr
    assert (
        "stage 1/5: left alone 1 pending change(s) outside vault payments-kv (run `hsmsync apply` for "
        f"them): create role assignment Reader for auditor at {subscription}" in applied.stdout
    )
    state = read_state_file(here / "state.json")
    assert [a for a in state.arm.role_assignments if a.scope.lower() == subscription.lower()] == []
    assert _vault(here) == (True, 0, 6)  # the vault's own five were made
    pending = run_cli("plan", "--detailed-exitcode", *STATE, cwd=here)
    assert pending.exit_code == 2 and "Reader" in pending.stdout


def test_a_stage_1_failure_says_what_the_roles_made_so_far_do_now(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the switch the vault ignores the new assignments' data actions, but their roles'
    control-plane actions are in force at once: the message says both, and which were made."""
    assert run_cli("migrate", "--write", *STATE, cwd=here).exit_code == 0
    real = FileStateBackend.apply_change
    made: list[Change] = []

    def fail_the_third(self: FileStateBackend, change: Change) -> Outcome:
        if change.kind is Kind.ROLE_ASSIGNMENT and sum(c.kind is Kind.ROLE_ASSIGNMENT for c in made) == 2:
            raise HsmsyncError("role assignment refused (simulated)")
        made.append(change)
        return real(self, change)

    monkeypatch.setattr(FileStateBackend, "apply_change", fail_the_third)
    failed = run_cli("migrate", "--apply", "--caller", "pipeline", *STATE, cwd=here)
    assert failed.exit_code == 1
    assert "stage 1 failed: role assignment refused (simulated)" in failed.stderr
    assert "change nothing" not in failed.stderr  # untrue of a role with control-plane actions
    assert (
        "nothing was switched: the vault still uses its access policies, so the data actions of the "
        f"{len(made)} Azure role change(s) made so far do not reach it yet; their control-plane actions apply now"
    ) in failed.stderr
    assigned = [c for c in made if c.kind is Kind.ROLE_ASSIGNMENT]
    for change in assigned:
        assert f"create role assignment {change.role} for {change.principal} at {VAULT_ID}" in failed.stderr
    assert "control-plane actions in force now: Microsoft.Authorization/*/read" in failed.stderr
    assert _vault(here) == (False, 4, 3)  # two made, nothing switched, the policies all there


def test_a_conditional_assignment_is_not_counted_as_the_equal_of_an_access_policy() -> None:
    """Stages 1 and 4 verify access through the live assignments: one whose condition limits
    secrets/get to some names does not give what the identity's policy gave on the whole vault."""
    secrets_user = "4633458b-17de-408a-b874-0445c86b69e6"
    app_only = (
        "((!(ActionMatches{'Microsoft.KeyVault/vaults/secrets/getSecret/action'})) OR "
        "(@Resource[Microsoft.KeyVault/vaults/secrets:name] StringStartsWith 'app-'))"
    )
    not_about_secrets = "((!(ActionMatches{'Microsoft.KeyVault/vaults/keys/sign/action'})))"

    def granted(condition: str | None) -> frozenset[str]:
        assignment = ArmRoleAssignment(
            name="c0000000-0000-4000-8000-000000000001",
            scope=VAULT_ID,
            role_definition_id=secrets_user,
            principal_id=SECRETS_APP,
            principal_type="ServicePrincipal",
            condition=condition,
            condition_version="2.0" if condition else None,
        )
        state = vault_state(rbac=True, arm=ArmState(role_assignments=(assignment,)))
        return live_granted(state, VAULT_ID).get(SECRETS_APP, frozenset())

    assert granted(None) == {"secrets/get", "secrets/list"}
    assert granted(app_only) == frozenset()
    assert granted(not_about_secrets) == {"secrets/get", "secrets/list"}  # restricts nothing it gives
