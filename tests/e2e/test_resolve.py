"""`hsmsync resolve` end to end: names looked up in the emulator's Graph (and in a state file's
directory), ids written into a commented manifest byte for byte, then planned and applied; ARM's
PrincipalNotFound through the live backend."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hsmsync.backends.azure import AzureBackend, settings_from_endpoints
from hsmsync.backends.base import Outcome
from hsmsync.core.errors import BackendError
from hsmsync.core.plan import Action, Kind, Plane
from hsmsync.core.target import ARM
from hsmsync_emulator import start_emulator
from tests.changes import flat_change
from tests.conftest import CONTOSO, run_cli
from tests.signin import sign_in_as, with_sign_in

SECURITY_TEAM = "6d1c8a57-2f0e-4b7a-9a43-3c5e1f0b7a11"
APP_VM = "8c2f4a6e-1b3d-4e5f-a7c9-0d2e4f6a8b44"
ALICE = "e1e1e1e1-0000-4000-8000-000000000001"
TWIN_A = "e2e2e2e2-0000-4000-8000-000000000001"
TWIN_B = "e2e2e2e2-0000-4000-8000-000000000002"
STRANGER = "e3e3e3e3-0000-4000-8000-000000000009"
SUB = "2f6c8e0a-4b1d-4c3e-9f5a-7b9d1e3f5a77"
RG = f"/subscriptions/{SUB}/resourceGroups/ContosoAppRG"
CONTRIBUTOR = "18500a29-7fe2-46b2-a342-b16a415e101d"

MANIFEST = f"""\
# yaml-language-server: $schema=../../schemas/hsmsync.schema.json
# Contoso, by name: `hsmsync resolve` pins the ids.
version: 1

principals:
  # by display name (groups, service principals) or UPN (users)
  security-team:  {{type: Group, name: Contoso Security Team}}      # aligned on purpose
  app-vm:         {{type: ServicePrincipal, name: 'contoso-app-vm'}}
  alice:
    type: User        # a person
    upn: alice@contoso.com
  pipeline: {{type: ServicePrincipal, id: 7c9e1a3b-5d7f-4b9d-8e2a-6c8e0a2c4e99, name: hsmsync-pipeline}}

hsms:
  contoso:
    url: https://contosomhsm.managedhsm.azure.net
    resource_id: {RG}/providers/Microsoft.KeyVault/managedHSMs/ContosoMHSM

teams:
  platform:   # keeps hsmsync in charge
    members: [pipeline]
    data:
      - {{hsm: contoso, role: Administrator, scope: /}}
      - {{hsm: contoso, role: Crypto Auditor, scope: /keys}}
  security:
    members: [security-team]
    management:
      - {{role: Managed HSM Contributor, scope: {RG}}}
  app:
    members: [app-vm, alice]
    data:
      - {{hsm: contoso, role: Crypto User, scope: /keys/app-signing}}
"""

RESOLVED = (
    MANIFEST.replace(
        "{type: Group, name: Contoso Security Team}",
        f"{{type: Group, id: {SECURITY_TEAM}, name: Contoso Security Team}}",
    )
    .replace(
        "{type: ServicePrincipal, name: 'contoso-app-vm'}",
        f"{{type: ServicePrincipal, id: {APP_VM}, name: 'contoso-app-vm'}}",
    )
    .replace("    type: User        # a person\n", f"    type: User        # a person\n    id: {ALICE}\n")
)


def _state(directory: Path) -> Path:
    """Contoso's empty state with a directory: Alice, and two groups sharing a display name."""
    state = json.loads((CONTOSO / "empty-state.json").read_text())
    state["directory"] += [
        {
            "id": ALICE,
            "type": "User",
            "display_name": "Alice Example",
            "user_principal_name": "alice@contoso.com",
        },
        {"id": TWIN_A, "type": "Group", "display_name": "Platform Engineers"},
        {"id": TWIN_B, "type": "Group", "display_name": "Platform Engineers"},
    ]
    path = directory / "emulated.json"
    path.write_text(json.dumps(state, indent=2))
    return path


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST)
    with start_emulator(_state(tmp_path), workdir=tmp_path / "emu") as emulator:
        emulator.write_endpoints(tmp_path / "endpoints.json")
        sign_in_as(emulator)
        yield tmp_path


LIVE = ("--live", "--endpoints", "endpoints.json")


def test_resolve_pins_ids_byte_for_byte_then_plan_and_apply(emulated: Path) -> None:
    manifest = emulated / "hsmsync.yaml"
    unresolved = run_cli("plan", *LIVE, cwd=emulated)
    assert unresolved.exit_code == 1 and "run `hsmsync resolve` to look it up by name" in unresolved.stderr

    result = run_cli("resolve", *LIVE, cwd=emulated)
    assert result.exit_code == 0, result.stderr
    assert manifest.read_text() == RESOLVED
    assert "pinned 3 principal ids" in result.stdout
    assert f"alice          {ALICE}  (User upn 'alice@contoso.com')" in result.stdout

    again = run_cli("resolve", *LIVE, cwd=emulated)
    assert again.exit_code == 0 and "nothing to resolve" in again.stdout
    assert run_cli("resolve", "--check", cwd=emulated).exit_code == 0

    plan = run_cli("plan", *LIVE, "--detailed-exitcode", cwd=emulated)
    assert plan.exit_code == 2, plan.stderr
    assert "alice (User)" in plan.stdout and "security-team (Group)" in plan.stdout
    applied = run_cli("apply", *LIVE, "--auto-approve", cwd=emulated)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert run_cli("plan", *LIVE, "--detailed-exitcode", cwd=emulated).exit_code == 0


def _principal(emulated: Path, line: str) -> Path:
    """The manifest with one more principal `extra` (declared, in no team)."""
    manifest = emulated / "hsmsync.yaml"
    manifest.write_text(MANIFEST.replace("\nhsms:\n", f"  extra: {line}\n\nhsms:\n"))
    return manifest


def test_ambiguous_name_lists_candidates_and_writes_nothing(emulated: Path) -> None:
    manifest = _principal(emulated, "{type: Group, name: platform engineers}")
    before = manifest.read_bytes()
    result = run_cli("resolve", *LIVE, cwd=emulated)
    assert result.exit_code == 1
    assert (
        "hsmsync.yaml:13: principals.extra.name: 'platform engineers' is ambiguous: 2 group objects match"
        in (result.stderr)
    )
    assert f"    - {TWIN_A}  'Platform Engineers'\n" in result.stderr
    assert f"    - {TWIN_B}  'Platform Engineers'\n" in result.stderr
    assert "not changed (1 of 4 principals unresolved)" in result.stderr
    assert manifest.read_bytes() == before


def test_missing_names_are_errors(emulated: Path) -> None:
    manifest = _principal(emulated, "{type: User, upn: nobody@contoso.com}")
    manifest.write_text(manifest.read_text().replace("name: 'contoso-app-vm'", "name: contoso-app-wm"))
    before = manifest.read_bytes()
    result = run_cli("resolve", *LIVE, cwd=emulated)
    assert result.exit_code == 1
    assert (
        "principals.app-vm.name: no service principal named 'contoso-app-wm' in the directory\n"
        in result.stderr
    )
    assert "principals.extra.upn: no user with UPN 'nobody@contoso.com' in the directory" in result.stderr
    assert manifest.read_bytes() == before


def test_check_writes_nothing(emulated: Path) -> None:
    manifest = emulated / "hsmsync.yaml"
    result = run_cli("resolve", "--check", *LIVE, cwd=emulated)
    assert result.exit_code == 1
    assert (
        "hsmsync.yaml:7: principals.security-team: has no id yet (name 'Contoso Security Team')"
        in result.stderr
    )
    assert "hsmsync.yaml:9: principals.alice: has no id yet (upn 'alice@contoso.com')" in result.stderr
    assert "3 of 4 principals not pinned" in result.stderr
    assert manifest.read_text() == MANIFEST


def test_state_directory_variant(tmp_path: Path) -> None:
    shutil.copy(_state(tmp_path), tmp_path / "state.json")
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST)
    result = run_cli("resolve", "--state", "state.json", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "hsmsync.yaml").read_text() == RESOLVED
    assert run_cli("plan", "--state", "state.json", cwd=tmp_path).exit_code == 0

    # a typo gets close names from the directory
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST.replace("Contoso Security Team", "Contoso Securty Team"))
    typo = run_cli("resolve", "--state", "state.json", cwd=tmp_path)
    assert typo.exit_code == 1
    assert (
        "no group named 'Contoso Securty Team' in the directory; similar names in the directory:\n"
        f"    - {SECURITY_TEAM}  'Contoso Security Team'"
    ) in typo.stderr

    no_directory = run_cli("resolve", "--state", "empty.json", cwd=_without_directory(tmp_path))
    assert no_directory.exit_code == 1 and "has no `directory`" in no_directory.stderr


def _without_directory(directory: Path) -> Path:
    state = json.loads((CONTOSO / "empty-state.json").read_text())
    state["directory"] = None
    (directory / "empty.json").write_text(json.dumps(state))
    return directory


def test_structural_errors_are_reported_with_lines(tmp_path: Path) -> None:
    (tmp_path / "hsmsync.yaml").write_text(MANIFEST.replace("type: User", "type: Person"))
    result = run_cli("resolve", "--state", "state.json", cwd=tmp_path)
    assert result.exit_code == 1
    assert "hsmsync.yaml:10: principals.alice.type: 'Person' is not allowed" in result.stderr


# -- ARM PrincipalNotFound through the live backend ------------------------------------------------

STRANGER_MANIFEST = f"""\
version: 1
principals:
  stranger: {{type: ServicePrincipal, id: {STRANGER}}}
teams:
  t:
    members: [stranger]
    management:
      - {{role: Managed HSM Contributor, scope: {RG}}}
"""


def test_apply_reports_principal_not_found_after_the_bounded_wait(emulated: Path) -> None:
    (emulated / "hsmsync.yaml").write_text(STRANGER_MANIFEST)
    result = run_cli(
        "apply", *LIVE, "--auto-approve", cwd=emulated, environ={"HSMSYNC_PRINCIPAL_WAIT_SECONDS": "0.2"}
    )
    assert result.exit_code == 1
    assert "PrincipalNotFound" in result.stdout + result.stderr
    assert "The principal does not exist in the directory" in result.stdout + result.stderr
    assert f"principal {STRANGER}" in result.stdout + result.stderr


def test_backend_retries_principal_not_found_then_reports_it(emulated: Path) -> None:
    settings = settings_from_endpoints(
        emulated / "endpoints.json", principal_wait_seconds=0.5, auth="client-secret", environ=with_sign_in()
    )
    change = flat_change(
        id="c1",
        action=Action.CREATE,
        kind=Kind.ROLE_ASSIGNMENT,
        plane=Plane.MANAGEMENT,
        target=ARM,
        scope=RG,
        name="0d6b7c1e-1111-4222-8333-944444444444",
        role="Managed HSM Contributor",
        role_id=CONTRIBUTOR,
        reason="",
        principal_id=STRANGER,
        principal_type="ServicePrincipal",
    )
    with AzureBackend(replace(settings, principal_wait_interval=0.05)) as backend:
        with pytest.raises(
            BackendError, match=r"does not exist in the directory after retrying for 0\.5s"
        ) as info:
            backend.apply_change(change)
        assert info.value.code == "PrincipalNotFound"
        assert f"Principal {STRANGER.replace('-', '')} does not exist in the directory" in str(info.value)
        # once the principal exists (replicated), the same change goes through
        state_path = emulated / "emulated.json"
        state = json.loads(state_path.read_text())
        state["directory"].append({"id": STRANGER, "type": "ServicePrincipal", "display_name": "late"})
        state_path.write_text(json.dumps(state))
        assert backend.apply_change(change) is Outcome.DONE
