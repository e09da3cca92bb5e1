"""The lint/whocan/explain commands' `run`, called directly (errors raise, as `main` sees them), on
the Contoso example."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from hsmsync.cli import build_parser
from hsmsync.cli.commands import COMMANDS
from hsmsync.cli.context import Context
from hsmsync.core.errors import HsmsyncError
from hsmsync.environment import Environment

CONTOSO = Path(__file__).resolve().parents[2] / "examples" / "contoso"


@dataclass
class Ran:
    code: int
    out: str


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("hsmsync.yaml", "live-as-tutorial.json"):
        shutil.copy(CONTOSO / name, tmp_path / name)
    return tmp_path


def run(cwd: Path, *argv: str) -> Ran:
    args = build_parser().parse_args(list(argv))
    out = io.StringIO()
    env = Environment(
        stdout=out, stderr=io.StringIO(), stdin=io.StringIO(), stdin_isatty=False, environ={}, cwd=cwd
    )
    return Ran(COMMANDS[args.command].run(args, Context(env)), out.getvalue())


def test_lint_on_contoso_warns_twice_and_exits_0(workdir: Path) -> None:
    ran = run(workdir, "lint")
    assert ran.code == 0
    assert ran.out.count("warning HSM003") == 2 and "hsmsync.yaml:123:" in ran.out


def test_lint_exits_1_on_an_unsuppressed_error(workdir: Path) -> None:
    text = (workdir / "hsmsync.yaml").read_text()
    text = text.replace("members: [security-team]", "members: [security-team, app-vm]")
    (workdir / "bad.yaml").write_text(text)
    ran = run(workdir, "lint", "-f", "bad.yaml", "--format", "json")
    assert ran.code == 1
    assert "HSM001" in [f["rule"] for f in json.loads(ran.out)["findings"]]


def test_lint_sarif_with_state(workdir: Path) -> None:
    ran = run(workdir, "lint", "--format", "sarif", "--state", "live-as-tutorial.json")
    results = json.loads(ran.out)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["HSM003", "HSM003", "HSM012"] and ran.code == 0
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "hsmsync.yaml"


def test_whocan_answers_from_the_manifest_and_from_live_state(workdir: Path) -> None:
    ran = run(
        workdir,
        "whocan",
        "--hsm",
        "contoso",
        "--key",
        "app-signing",
        "sign",
        "--state",
        "live-as-tutorial.json",
    )
    would_be, is_now = ran.out.split("In live state (what is):")
    assert "app-vm (ServicePrincipal)  via team application  Managed HSM Crypto User at /" in would_be
    # the tutorial's commands gave the VM Crypto Auditor: today nobody can sign
    assert "Nobody can keys/sign/action on contoso, key app-signing." in is_now


def test_whocan_rotate_lists_the_rotation_job_and_not_auditors(workdir: Path) -> None:
    out = run(workdir, "whocan", "--hsm", "contoso", "--key", "app-signing", "keys/rotate/action").out
    assert (
        "key-rotation (ServicePrincipal)  via team rotation  Contoso Key Rotator at /keys/app-signing" in out
    )
    assert "auditors" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("whocan", "--hsm", "nope", "sign"), "unknown HSM or vault 'nope'"),
        (("whocan", "--hsm", "contosso", "sign"), "did you mean 'contoso'"),
        (
            ("whocan", "--vault", "contoso-vk", "keys/sign"),
            "unknown vault 'contoso-vk'.*did you mean 'contoso-kv'",
        ),
        # issue 9, item 12: a key that does not exist is an error with close matches, not "Nobody can"
        (("whocan", "--hsm", "contoso", "--key", "nope", "sign"), "names no key 'nope'"),
        (("whocan", "--hsm", "contoso", "--key", "app-signnig", "sign"), "did you mean 'app-signing'"),
        (
            ("whocan", "--hsm", "contoso", "--key", "nope", "sign", "--state", "live-as-tutorial.json"),
            "HSM 'contoso' has no key 'nope'; keys: app-signing",
        ),
        (("whocan", "--hsm", "contoso-kv", "get"), "several kinds; name one: keys/get, secrets/get"),
        (("whocan", "--hsm", "contoso-kv", "keys/sigh"), "did you mean 'keys/sign'"),
        (("whocan", "--hsm", "contoso", "--key", "a/b", "sign"), "not a valid key name"),
        (("whocan", "--hsm", "contoso", "sgin"), "did you mean 'sign'"),
        (("explain", "app-mv"), "did you mean 'app-vm'"),
        (("lint", "-f", "missing.yaml"), "manifest not found"),
    ],
)
def test_errors_are_hsmsync_errors_with_a_clear_message(
    workdir: Path, argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(HsmsyncError, match=message):
        run(workdir, *argv)


def test_explain_by_key_with_state_flags_undeclared_live_access(workdir: Path) -> None:
    out = run(workdir, "explain", "app-vm", "--state", "live-as-tutorial.json").out
    would_be, is_now = out.split("In live state (what is):")
    assert "Managed HSM Crypto User at /  via team application" in would_be and "not needed" not in would_be
    assert (
        "Managed HSM Crypto Auditor at /" in is_now and "! not needed: not declared by the manifest" in is_now
    )


def test_explain_by_object_id_and_a_principal_without_access(workdir: Path) -> None:
    out = run(workdir, "explain", "0F4E2B9C-7A1D-4C36-8E55-9B2D6A4C1E22").out
    assert out.startswith(
        "devops (Group, 0f4e2b9c-7a1d-4c36-8e55-9b2d6a4c1e22)\n  management plane (Azure RBAC):\n"
    )
    assert "Microsoft.KeyVault/vaults/deploy/action" in out and "data plane" not in out


KV_READER = "4a4a4a4a-0000-4000-8000-00000000beef"


def _with_vault_reader(workdir: Path) -> None:
    """A principal whose only access is an access policy on the vault (live and declared)."""
    text = (workdir / "hsmsync.yaml").read_text()
    text = text.replace(
        "principals:\n", f"principals:\n  kv-reader: {{type: User, id: {KV_READER}}}\n", 1
    ).replace(
        "      app-vm:        {keys: [sign], secrets: [get]}",
        "      app-vm:        {keys: [sign], secrets: [get]}\n      kv-reader:     {secrets: [get, list]}",
    )
    (workdir / "hsmsync.yaml").write_text(text)
    state = json.loads((workdir / "live-as-tutorial.json").read_text())
    state["vaults"]["contoso-kv"]["access_policies"].append(
        {"object_id": KV_READER, "keys": ["get", "unwrapKey"], "secrets": ["get", "list"]}
    )
    (workdir / "live-as-tutorial.json").write_text(json.dumps(state))


def test_explain_covers_vault_access_policies(workdir: Path) -> None:
    """Issue 9, item 12: a principal with a vault access policy has access, on both sides."""
    _with_vault_reader(workdir)
    out = run(workdir, "explain", "kv-reader", "--state", "live-as-tutorial.json").out
    would_be, is_now = out.split("In live state (what is):")
    assert "no access" not in out
    assert "Key Vault contoso-kv:\n    access policy  via vaults.contoso-kv.access_policies\n" in would_be
    assert "      can: secrets: get, list\n" in would_be
    assert "      can: keys: get, unwrapkey; secrets: get, list\n" in is_now
    assert "! the manifest declares secrets: get, list" in is_now


def test_explain_says_access_policies_of_an_rbac_vault_are_ignored(workdir: Path) -> None:
    _with_vault_reader(workdir)
    state = json.loads((workdir / "live-as-tutorial.json").read_text())
    state["vaults"]["contoso-kv"]["enable_rbac_authorization"] = True
    (workdir / "live-as-tutorial.json").write_text(json.dumps(state))
    is_now = run(workdir, "explain", "kv-reader", "--state", "live-as-tutorial.json").out.split("is):")[1]
    assert "! ignored: the vault uses Azure RBAC, so Azure does not apply access policies" in is_now
    # whocan answers from the vault's Azure role assignments, where the policy does not count.
    ran = run(workdir, "whocan", "--vault", "contoso-kv", "secrets/get", "--state", "live-as-tutorial.json")
    now = ran.out.split("In live state (what is):")[1]
    assert "Nobody can secrets/get on vault contoso-kv (access policies / Azure RBAC)." in now
    assert "kv-reader" not in now


@pytest.mark.parametrize("how", [("--hsm", "contoso-kv"), ("--vault", "contoso-kv")])
def test_whocan_answers_for_a_vault_from_its_access_policies(workdir: Path, how: tuple[str, str]) -> None:
    _with_vault_reader(workdir)
    ran = run(workdir, "whocan", *how, "unwrap", "--state", "live-as-tutorial.json")
    would_be, is_now = ran.out.split("In live state (what is):")
    assert "Nobody can keys/unwrapkey on vault contoso-kv (access policies)." in would_be
    assert "kv-reader (User)  via live access policy  access policy (keys: unwrapkey)" in is_now
    secrets = run(workdir, "whocan", *how, "secrets/get").out
    assert secrets.startswith("3 principals can secrets/get on vault contoso-kv (access policies):")
    assert "app-vm (ServicePrincipal)" in secrets and "kv-reader (User)" in secrets
