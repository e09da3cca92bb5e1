"""Where a token may go: the one rule every SDK and Graph request is checked against.

- Tokens from the emulator's token service go only to loopback: an IP literal in 127.0.0.0/8 or ::1, or
  `localhost` when every address it resolves to is loopback. No other name is accepted, so a DNS
  answer cannot turn a loopback check into a remote connection.
- Real Azure tokens go only to the hosts of the known Azure clouds (public, US Government, China;
  from the azure-cli cloud definitions: `resource_manager`, `microsoft_graph_resource_id`,
  `keyvault_dns`, `mhsm_dns`) or to hosts the user names with `--allow-host` on the command line;
  never to a host that only a file (manifest, endpoints file) names.

`HostGuardPolicy` sits in every pipeline after the redirect and retry policies (a per-retry
policy), so it sees every attempt, retries and redirects included, and refuses a request to any
other host before it reaches the authentication policy or the transport.

The host is the one urllib3's `parse_url` finds: the parser of the transport (requests) that
sends the request, so the check and the connection cannot disagree about where a URL goes
(`https://evil.com\\.managedhsm.azure.net` is evil.com to urllib3). A URL whose host is not plain
is refused outright: userinfo (`user@host`), a backslash, whitespace or a control character
anywhere, percent-encoding or non-ASCII in the authority, or a host that is neither a strict DNS
name nor an IP literal.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from hsmsync.core.errors import BackendError

# Key Vault / Managed HSM data planes: any host under these suffixes.
AZURE_DATA_PLANE_SUFFIXES = (
    ".managedhsm.azure.net",
    ".vault.azure.net",
    ".managedhsm.usgovcloudapi.net",
    ".vault.usgovcloudapi.net",
    ".managedhsm.azure.cn",
    ".vault.azure.cn",
)
# Azure Resource Manager and Microsoft Graph of the same clouds: these exact hosts.
AZURE_SERVICE_HOSTS = frozenset(
    {
        "management.azure.com",
        "graph.microsoft.com",
        "management.usgovcloudapi.net",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "management.chinacloudapi.cn",
        "microsoftgraph.chinacloudapi.cn",
    }
)

# Entra ID token services of the same clouds (where credentials are presented).
AZURE_LOGIN_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)

Resolver = Callable[[str], Sequence[str]]


def resolve_addresses(host: str) -> list[str]:
    """Every address `host` resolves to (the system resolver)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


_DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*\.?")


# In ASCII, exactly the characters `_unsafe_char` refuses: controls, space and DEL, and the backslash.
_UNSAFE_ASCII = re.compile(r"[\x00-\x20\x7f\\]")


def _unsafe_char(ch: str) -> bool:
    return ch == "\\" or ch.isspace() or not ch.isprintable()


def _has_unsafe_char(url: str) -> bool:
    """Does `url` hold a backslash, whitespace or a control character? (Checked on every request:
    an ASCII URL, as every Azure one is, in one regex search instead of a Python loop.)"""
    if url.isascii():
        return _UNSAFE_ASCII.search(url) is not None
    return any(_unsafe_char(ch) for ch in url)


def url_problem(url: str) -> str | None:
    """Why `url`'s host cannot be vouched for (None: it can): see the module docstring."""
    if _has_unsafe_char(url):
        return "it contains a backslash, whitespace or a control character"
    _scheme, sep, rest = url.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not sep or not authority:
        return "it has no scheme:// and host"
    if "@" in authority:
        return "it carries userinfo (user@host)"
    if "%" in authority or not authority.isascii():
        return "its host is percent-encoded or not ASCII"
    try:
        host = (parse_url(url).host or "").lower()
        other_reading = urlsplit(url).hostname or ""
    except (LocationParseError, ValueError):
        return "it cannot be parsed"
    if not _is_plain_host(host):
        return f"'{host}' is not a host name or an IP address"
    if other_reading != host.strip("[]"):  # belt and braces: both parsers agree
        return "URL parsers disagree about its host"
    return None


def _is_plain_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        return _is_ip(host[1:-1], ipaddress.IPv6Address)
    if _is_ip(host, ipaddress.IPv4Address):
        return True
    # A DNS name whose last label is not all digits (`127.1`, `2130706433` are not names).
    return bool(_DNS_NAME.fullmatch(host)) and not host.rstrip(".").rsplit(".", 1)[-1].isdigit()


def _is_ip(text: str, kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def url_host(url: str) -> str:
    """The host a request to `url` goes to (urllib3's reading; IPv6 without brackets); "" when
    `url_problem` finds one."""
    if url_problem(url) is not None:
        return ""
    return (parse_url(url).host or "").lower().strip("[]").rstrip(".")


def is_loopback_host(host: str, *, resolve: Resolver = resolve_addresses) -> bool:
    """An IP literal in 127.0.0.0/8 or ::1, or `localhost` resolving only to such addresses."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        try:
            addresses = resolve(host)
        except OSError:
            return False
        return bool(addresses) and all(_is_loopback_ip(a) for a in addresses)
    return _is_loopback_ip(host)


def _is_loopback_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def is_azure_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host in AZURE_SERVICE_HOSTS or any(
        host.endswith(suffix) and len(host) > len(suffix) for suffix in AZURE_DATA_PLANE_SUFFIXES
    )


@dataclass(frozen=True, slots=True)
class HostRule:
    """Which hosts this run's credential may be sent to.

    emulator: the run signs in at a loopback emulator's token service; its tokens go to loopback
    only. Otherwise the known Azure clouds' hosts plus `allowed` (from `--allow-host`, lower-case
    host names).
    """

    emulator: bool = False
    allowed: frozenset[str] = frozenset()
    resolve: Resolver = resolve_addresses

    @classmethod
    def for_real_credentials(cls, allowed: Iterable[str] = ()) -> HostRule:
        return cls(emulator=False, allowed=frozenset(h.lower().strip("[]").rstrip(".") for h in allowed))

    def permits(self, host: str) -> bool:
        if self.emulator:
            return is_loopback_host(host, resolve=self.resolve)
        return is_azure_host(host) or host.lower().rstrip(".") in self.allowed

    def permits_authority(self, host: str) -> bool:
        """May this run's secrets (client secret, federated token) go to this token service?"""
        if self.emulator:
            return is_loopback_host(host, resolve=self.resolve)
        return host.lower().rstrip(".") in AZURE_LOGIN_HOSTS or host.lower().rstrip(".") in self.allowed

    def refusal(self, url: str, what: str) -> str | None:
        """None when `url` may receive this run's tokens, else why not (naming `what` and the URL)."""
        malformed = url_problem(url)
        if malformed is not None:
            return f"{what}: refusing to send any token to {url!r}: {malformed}"
        host = url_host(url)
        if self.permits(host):
            return None
        origin = _origin(url)
        if self.emulator:
            return (
                f"{what}: refusing to send the emulator's token to {origin}: "
                "emulator URLs must be on loopback (127.0.0.0/8, ::1 or localhost)"
            )
        return (
            f"{what}: refusing to send Azure credentials to {origin}: '{host}' is not a host of a "
            "known Azure cloud (*.managedhsm.azure.net, *.vault.azure.net, management.azure.com, "
            f"graph.microsoft.com and their US Government and China equivalents); if you trust it, "
            f"allow it on the command line with --allow-host {host}"
        )

    def check(self, url: str, what: str) -> None:
        problem = self.refusal(url, what)
        if problem is not None:
            raise BackendError(problem)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class HostGuardPolicy(HTTPPolicy[Any, Any]):
    """Refuses, before sending, any request to a host the `HostRule` does not permit."""

    def __init__(self, rule: HostRule) -> None:
        super().__init__()
        self._rule = rule

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        url = request.http_request.url
        where = "" if url_problem(url) else f" {_origin(url)}{urlsplit(url).path}"
        self._rule.check(url, f"{request.http_request.method}{where}")
        return self.next.send(request)
