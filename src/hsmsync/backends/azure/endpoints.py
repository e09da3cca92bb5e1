"""The endpoints file (`--endpoints FILE`): where the services are, e.g. a local emulator.

    {"emulator": true, "tenant_id": "<tid>",
     "hsms": {"<hsm name>": "https://127.0.0.1:<port>"}, "arm": "https://127.0.0.1:<port>",
     "graph": "https://127.0.0.1:<port>", "authority": "https://127.0.0.1:<port>",
     "ca_cert": "/abs/ca.pem"}

The file names every service hsmsync talks to: `arm` is required, and an HSM of the manifest the
file does not name is an error, never a fallback to public Azure. `authority` is the token
service hsmsync signs in at (through azure-identity, with the `--auth` method).

With `emulator: true` every URL, the authority included, must be loopback (127.0.0.0/8, ::1,
localhost), and the tokens go only to loopback. Otherwise tokens go only to the known Azure
clouds' hosts or to hosts allowed with `--allow-host` on the command line (never because this
file says so), the authority must be a known Entra ID host (or allowed the same way), and the
SDK's challenge-resource check stays on. See `hosts.py`. The retired `identity` field (minted
tokens) is an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hsmsync.backends.azure.hosts import (
    HostRule,
    Resolver,
    is_loopback_host,
    resolve_addresses,
    url_host,
    url_problem,
)
from hsmsync.backends.azure.settings import AzureSettings, RetrySettings
from hsmsync.core.errors import StateError
from hsmsync.core.ids import is_guid
from hsmsync_files.textfiles import read_regular_text

_KNOWN_FIELDS = frozenset({"emulator", "tenant_id", "hsms", "arm", "graph", "authority", "ca_cert"})


@dataclass(frozen=True, slots=True)
class Endpoints:
    emulator: bool
    tenant_id: str
    hsms: Mapping[str, str]
    arm: str | None
    graph: str | None
    ca_cert: Path | None
    authority: str | None

    def urls(self) -> list[tuple[str, str]]:
        """(field, URL) of every service the file names."""
        named = [(f"hsms.{name}", url) for name, url in self.hsms.items()]
        return named + [(f, u) for f, u in (("arm", self.arm), ("graph", self.graph)) if u]

    def all_urls(self) -> list[tuple[str, str]]:
        """`urls()` and the authority."""
        return self.urls() + ([("authority", self.authority)] if self.authority else [])


class _Reader:
    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data

    def fail(self, field: str, message: str) -> StateError:
        return StateError(f"{self.path}: endpoints field '{field}': {message}")

    def url(self, field: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(field, "must be an https:// URL")
        problem = url_problem(value)  # the check every request passes, applied as the file is read
        if problem is not None:
            raise self.fail(field, f"{value!r} is refused: {problem}")
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise self.fail(field, f"'{value}' is not an https:// URL (the Azure SDKs require TLS)")
        return value.rstrip("/")

    def optional_url(self, field: str) -> str | None:
        value = self.data.get(field)
        return None if value is None else self.url(field, value)


def read_endpoints(path: Path) -> Endpoints:
    """Parse and validate an endpoints file; errors name the file and the field."""
    text = read_regular_text(path, "endpoints file", error=StateError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"{path}: endpoints file is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise StateError(f"{path}: endpoints file must be a JSON object")
    r = _Reader(path, data)
    if "identity" in data:
        raise r.fail(
            "identity",
            "no longer supported: hsmsync signs in at the emulator's token service instead; write the "
            "file again with `hsmsync emulator --endpoints-out` (it names the `authority`)",
        )
    unknown = sorted(set(data) - _KNOWN_FIELDS)
    if unknown:
        raise r.fail(unknown[0], f"unknown field (known: {', '.join(sorted(_KNOWN_FIELDS))})")

    emulator = data.get("emulator", False)
    if not isinstance(emulator, bool):
        raise r.fail("emulator", "must be true or false")
    tenant = data.get("tenant_id", "")
    if not isinstance(tenant, str) or (tenant and not is_guid(tenant)):
        raise r.fail("tenant_id", "must be a GUID")
    hsms = data.get("hsms", {})
    if not isinstance(hsms, dict):
        raise r.fail("hsms", "must map HSM names to URLs")
    hsm_urls = {str(name): r.url(f"hsms.{name}", url) for name, url in hsms.items()}

    ca_cert: Path | None = None
    if data.get("ca_cert") is not None:
        raw = data["ca_cert"]
        if not isinstance(raw, str) or not raw:
            raise r.fail("ca_cert", "must be a path to a PEM file")
        ca_cert = Path(raw) if Path(raw).is_absolute() else path.parent / raw
        if not ca_cert.is_file():
            raise r.fail("ca_cert", f"'{raw}' is not a file")

    if data.get("arm") is None:
        raise r.fail(
            "arm",
            "missing: the endpoints file must name the ARM endpoint too (hsmsync never falls back to "
            "public Azure for a service the file leaves out)",
        )
    return Endpoints(
        emulator=emulator,
        tenant_id=tenant,
        hsms=hsm_urls,
        arm=r.url("arm", data["arm"]),
        graph=r.optional_url("graph"),
        ca_cert=ca_cert,
        authority=r.optional_url("authority"),
    )


def host_rule_for(
    path: Path, ep: Endpoints, allow_hosts: Iterable[str], resolve: Resolver = resolve_addresses
) -> HostRule:
    """Where this run's tokens may go; every URL in the file must be such a place, and the
    authority a place its credentials may be presented."""
    if ep.emulator:
        if not ep.authority:
            raise StateError(
                f"{path}: endpoints field 'authority': missing: with \"emulator\": true hsmsync signs in "
                "at the emulator's token service (never at public Azure, whose tokens must not go to "
                "loopback)"
            )
        for field, url in ep.all_urls():
            if not is_loopback_host(url_host(url), resolve=resolve):
                raise StateError(
                    f"{path}: endpoints field '{field}': an emulator's URLs must be on loopback "
                    f"(127.0.0.0/8, localhost or ::1), not {url}"
                )
        return HostRule(emulator=True, resolve=resolve)
    rule = HostRule.for_real_credentials(allow_hosts)
    for field, url in ep.urls():
        problem = rule.refusal(url, f"{path}: endpoints field '{field}'")
        if problem is not None:
            raise StateError(problem)
    if ep.authority and not rule.permits_authority(url_host(ep.authority)):
        host = url_host(ep.authority)
        raise StateError(
            f"{path}: endpoints field 'authority': refusing to sign in at {ep.authority}: '{host}' is not "
            "a known Entra ID host (login.microsoftonline.com, login.microsoftonline.us, "
            f"login.chinacloudapi.cn); if you trust it, allow it on the command line with --allow-host {host}"
        )
    return rule


def settings_from_endpoints(
    path: Path,
    *,
    retry: RetrySettings | None = None,
    principal_wait_seconds: float | None = None,
    allow_hosts: Iterable[str] = (),
    resolve: Resolver = resolve_addresses,
    auth: str = "auto",
    environ: Mapping[str, str] | None = None,
) -> AzureSettings:
    """AzureSettings for an endpoints file (sign-in at its authority; emulator tokens only to loopback)."""
    ep = read_endpoints(path)
    hosts = host_rule_for(path, ep, allow_hosts, resolve)
    kwargs: dict[str, Any] = {}
    if retry is not None:
        kwargs["retry"] = retry
    if principal_wait_seconds is not None:
        kwargs["principal_wait_seconds"] = principal_wait_seconds
    return AzureSettings(
        authority=ep.authority,
        auth=auth,
        environ=dict(environ or {}),
        hsm_urls=dict(ep.hsms),
        arm_base_url=ep.arm,
        connection_verify=str(ep.ca_cert) if ep.ca_cert else True,
        # The emulator's hosts cannot pass the SDK's challenge-resource check; its tokens are
        # worthless elsewhere and go only to loopback. Real Azure always keeps the check.
        verify_challenge_resource=not hosts.emulator,
        hosts=hosts,
        hsm_urls_only=True,
        source=str(path),
        label="Azure SDK, emulator" if ep.emulator else "Azure SDK",
        graph_url=ep.graph,
        **kwargs,
    )
