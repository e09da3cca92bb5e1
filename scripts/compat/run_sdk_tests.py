"""`make test-compat-sdk`: the Azure SDK's own tests, unchanged, in live mode against the emulator.

For each package pinned in sdk.json: download its sdist from the package index (checked against
the pinned sha256), unpack it under out/compat-sdk/ (never committed), install it into the compat
virtualenv, start the emulator with one Managed HSM and one application that may sign in, and run
the package's chosen test files with pytest in that virtualenv, every api-version the client
supports. The only additions are plumbing: the endpoint, the emulator's CA, a client-secret
credential through the emulator's token service, a live-only stand-in for `devtools_testutils`
(not on the package index) and a pytest plugin (shim/hsmsync_compat_plugin.py, see its docstring).

Prints a table per package and api-version (passed/failed/total) and writes it to
out/compat-sdk/summary.md. Exit 1 when a test in scope failed (or could not run), else 0.

Run with the project's virtualenv (it has the emulator): .venv/bin/python scripts/compat/run_sdk_tests.py
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hsmsync_emulator import Emulator, start_emulator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHIM = HERE / "shim"
HSM_HOST = "compat.managedhsm.azure.net"  # :443 resolved to the emulator in the test process (the plugin)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ADMINISTRATOR = "a290e904-7015-4bba-90c8-60543313cdb4"
CRYPTO_USER = "21dbd100-6940-42c2-9190-5d6cb909625b"
CRYPTO_OFFICER = "515eb02d-2335-4d2d-92f2-b1cbdf9c3778"  # purges deleted keys


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    sha256: str
    tests: list[str]
    pytest_args: list[str]
    deselected_reason: str
    in_scope: list[str]
    out_of_scope: dict[str, str]

    @property
    def sdist_name(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}"


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped

    def add(self, test: dict[str, Any]) -> None:
        outcome = test["outcome"]
        if outcome == "passed":
            self.passed += 1
        elif outcome == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(
                f"{test['nodeid']}: {test['message'].splitlines()[0] if test['message'] else ''}"
            )


class CompatError(Exception):
    """A step of the run failed before any test could tell (download, hash, install, start)."""


# ------------------------------------------------------------------------------- the sdists


def load_packages(path: Path) -> list[Package]:
    return [Package(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))["packages"]]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sdist(python: Path, package: Package, dist: Path) -> Path:
    """The pinned sdist from the package index (kept in `dist` while its hash matches)."""
    target = dist / f"{package.sdist_name}.tar.gz"
    if not (target.is_file() and sha256_of(target) == package.sha256):
        target.unlink(missing_ok=True)
        command = [str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        command += ["--dest", str(dist), f"{package.name}=={package.version}"]
        run_step(command, f"download {package.name} {package.version}")
    if not target.is_file():
        raise CompatError(f"{package.name} {package.version}: pip saved no {target.name} in {dist}")
    actual = sha256_of(target)
    if actual != package.sha256:
        raise CompatError(
            f"{target.name}: sha256 {actual} is not the pinned {package.sha256} (scripts/compat/sdk.json)"
        )
    return target


def unpack(sdist: Path, into: Path, package: Package) -> Path:
    tree = into / package.sdist_name
    if not (tree / "tests").is_dir():
        with tarfile.open(sdist) as archive:
            archive.extractall(into, filter="data")
    if not (tree / "tests").is_dir():
        raise CompatError(f"{sdist.name} has no tests/ folder")
    return tree


def run_step(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CompatError(f"{what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")


# ------------------------------------------------------------------------------ the emulator


@dataclass(frozen=True)
class SignIn:
    client_id: str
    object_id: str
    secret: str


def compat_state(sign_in: SignIn) -> dict[str, Any]:
    """One HSM; one application allowed to sign in: Administrator, Crypto User and Crypto Officer at `/`."""
    assignments = [
        {
            "name": str(uuid.uuid4()),
            "scope": "/",
            "role_definition_id": role,
            "principal_id": sign_in.object_id,
        }
        for role in (ADMINISTRATOR, CRYPTO_USER, CRYPTO_OFFICER)
    ]
    hsm = {
        "url": f"https://{HSM_HOST}",
        "resource_id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/compat"
        "/providers/Microsoft.KeyVault/managedHSMs/compat",
        "initial_admin_object_ids": [sign_in.object_id],
        "role_assignments": assignments,
    }
    app = {
        "client_id": sign_in.client_id,
        "object_id": sign_in.object_id,
        "display_name": "azure-sdk-compat-tests",
        "client_secret_sha256": [hashlib.sha256(sign_in.secret.encode()).hexdigest()],
    }
    return {"version": 1, "tenant_id": TENANT, "hsms": {"compat": hsm}, "sign_in": {"applications": [app]}}


@contextlib.contextmanager
def running_emulator(out: Path, sign_in: SignIn) -> Iterator[Emulator]:
    state = out / "state.json"
    state.write_text(json.dumps(compat_state(sign_in), indent=2) + "\n", encoding="utf-8")
    with start_emulator(state, tls_names=(HSM_HOST,)) as emulator:
        yield emulator


def sdk_test_environment(
    emulator: Emulator, sign_in: SignIn, tests_dir: Path, results: Path
) -> dict[str, str]:
    """What the SDK's live tests read (their conftest and preparers), pointed at the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "KEYVAULT_", "PYTEST_"))}
    ca = str(emulator.ca_cert_path)
    env.update(
        {
            "AZURE_TEST_RUN_LIVE": "true",
            "AZURE_SKIP_LIVE_RECORDING": "true",
            "AZURE_MANAGEDHSM_URL": f"https://{HSM_HOST}",
            "HSMSYNC_COMPAT_RESOLVE": f"{HSM_HOST}=127.0.0.1:{urlsplit(emulator.hsm_urls['compat']).port}",
            # Read by the keys preparer even for HSM tests; the vault tests are deselected (HSM only).
            "AZURE_KEYVAULT_URL": "https://vault-not-in-this-run.invalid",
            # Read by the administration preparers for the backup tests, which are not part of this run.
            "BLOB_STORAGE_URL": "https://storage-not-served.invalid",
            "BLOB_CONTAINER_NAME": "not-served",
            "AZURE_AUTHORITY_HOST": emulator.authority_url,
            "KEYVAULT_TENANT_ID": emulator.tenant_id,
            "KEYVAULT_CLIENT_ID": sign_in.client_id,
            "KEYVAULT_CLIENT_SECRET": sign_in.secret,
            "MANAGED_IDENTITY_CLIENT_ID": sign_in.object_id,  # the principal test_role_assignment assigns
            "REQUESTS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
            "PYTHONPATH": str(SHIM),
            "PYTHONDONTWRITEBYTECODE": "1",
            "HSMSYNC_COMPAT_TESTS_DIR": str(tests_dir),
            "HSMSYNC_COMPAT_RESULTS": str(results),
        }
    )
    return env


# ----------------------------------------------------------------------------------- a run


@dataclass
class PackageResult:
    package: Package
    by_version: dict[str, Tally]
    out_of_scope: dict[str, Tally]
    deselected: int
    skipped_waits: int
    seconds: float


def function_name(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def run_package(
    python: Path, tree: Path, package: Package, emulator: Emulator, sign_in: SignIn
) -> PackageResult:
    results = tree / "hsmsync-compat-results.json"
    results.unlink(missing_ok=True)
    env = sdk_test_environment(emulator, sign_in, tree / "tests", results)
    command = [str(python), "-m", "pytest", "-p", "hsmsync_compat_plugin", "-p", "no:cacheprovider"]
    command += ["--rootdir", str(tree / "tests"), "-o", "asyncio_mode=strict", "-q", "-rN", "--tb=line"]
    command += [*package.tests, *package.pytest_args]
    started = time.monotonic()
    log = tree / "pytest.log"
    with log.open("w", encoding="utf-8") as sink:
        done = subprocess.run(command, cwd=tree, env=env, stdout=sink, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    # pytest: 0 all passed, 1 some failed; anything else (collection errors, usage, no tests) is no result.
    if done.returncode not in (0, 1) or not results.is_file():
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-30:])
        raise CompatError(f"{package.name}: pytest exit {done.returncode}, see {log}:\n{tail}")
    result = tally(package, json.loads(results.read_text(encoding="utf-8")), seconds)
    ran = {function_name(t["nodeid"]) for t in json.loads(results.read_text(encoding="utf-8"))["tests"]}
    missing = sorted(set(package.in_scope) - ran)
    if missing:
        raise CompatError(f"{package.name}: tests in scope did not run: {', '.join(missing)} (see {log})")
    return result


def tally(package: Package, payload: dict[str, Any], seconds: float) -> PackageResult:
    by_version: dict[str, Tally] = {}
    out_of_scope: dict[str, Tally] = {}
    for test in payload["tests"]:
        name = function_name(test["nodeid"])
        if name in package.in_scope:
            by_version.setdefault(test["api_version"], Tally()).add(test)
        else:
            out_of_scope.setdefault(name, Tally()).add(test)
    return PackageResult(
        package, by_version, out_of_scope, len(payload["deselected"]), payload["skipped_waits"], seconds
    )


# ------------------------------------------------------------------------------- reporting


def summary(results: list[PackageResult], total_seconds: float) -> str:
    lines = [
        "| package | api-version | passed | failed | skipped | total |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        label = f"{result.package.name} {result.package.version}"
        for version in result.by_version:  # the SDK's own order (ApiVersion, newest first)
            t = result.by_version[version]
            lines.append(f"| {label} | {version} | {t.passed} | {t.failed} | {t.skipped} | {t.total} |")
    lines.append("")
    for result in results:
        pkg = result.package
        files = ", ".join(f"`{f}`" for f in pkg.tests)
        lines.append(f"- {pkg.name} {pkg.version}: {files}, {result.seconds:.0f} s;")
        lines.append(f"  in scope: {', '.join(pkg.in_scope)}.")
        if result.deselected:
            lines.append(f"  Not run ({result.deselected} deselected): {pkg.deselected_reason}.")
        if result.skipped_waits:
            lines.append(
                f"  {result.skipped_waits} pacing waits of the tests skipped (the SDK's own waits are real)."
            )
        for name, t in sorted(result.out_of_scope.items()):
            reason = pkg.out_of_scope.get(name, "not listed in scripts/compat/sdk.json")
            lines.append(
                f"  Out of scope: {name} ({reason}): {t.passed} passed, {t.failed} failed, "
                f"{t.skipped} skipped of {t.total}."
            )
    lines.append(f"\nTotal run time {total_seconds:.0f} s.")
    return "\n".join(lines) + "\n"


def failures(results: list[PackageResult]) -> list[str]:
    return [f for r in results for t in r.by_version.values() for f in t.failures]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=ROOT / ".venv-compat" / "bin" / "python")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "compat-sdk")
    parser.add_argument("--pins", type=Path, default=HERE / "sdk.json")
    parser.add_argument("--only", help="run this package only (name as in sdk.json)")
    args = parser.parse_args(argv)
    args.python = args.python.absolute()  # not resolve(): the venv's python is a symlink out of it
    started = time.monotonic()
    try:
        packages = [p for p in load_packages(args.pins) if args.only in (None, p.name)]
        (args.out / "dist").mkdir(parents=True, exist_ok=True)
        trees = [unpack(fetch_sdist(args.python, p, args.out / "dist"), args.out, p) for p in packages]
        install = [str(args.python), "-m", "pip", "install", "--quiet", "--no-deps", *map(str, trees)]
        run_step(install, "install the packages under test")
        sign_in = SignIn(str(uuid.uuid4()), str(uuid.uuid4()), secrets.token_urlsafe(24))
        with running_emulator(args.out, sign_in) as emulator:
            results = [
                run_package(args.python, t, p, emulator, sign_in)
                for t, p in zip(trees, packages, strict=True)
            ]
    except CompatError as exc:
        sys.stderr.write(f"test-compat-sdk: {exc}\n")
        return 1
    report = summary(results, time.monotonic() - started)
    (args.out / "summary.md").write_text(report, encoding="utf-8")
    failed = failures(results)
    for line in failed:
        sys.stdout.write(f"FAILED {line}\n")
    sys.stdout.write(f"\nAzure SDK tests against the emulator (make test-compat-sdk):\n\n{report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
