"""A minimal GitHub REST client over an injectable transport (standard library only).

The Action runs this with whatever Python the runner has, before or without hsmsync's own
dependencies, so it imports nothing outside the standard library. Tests inject a transport (or
point `api_url` at a loopback server) instead of talking to GitHub.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


Transport = Callable[[HttpRequest], HttpResponse]
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def urllib_transport(request: HttpRequest) -> HttpResponse:
    """The real transport: urllib, answering HTTP errors as responses (the client decides)."""
    req = urllib.request.Request(request.url, data=request.body, method=request.method)
    for name, value in request.headers.items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - the API URL is the runner's
            return HttpResponse(resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()})
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()})


class GitHubError(Exception):
    """An API call failed; the message never contains the token (see `GitHub.redact`)."""


class GitHub:
    def __init__(self, api_url: str, repository: str, token: str, transport: Transport = urllib_transport):
        if not token:
            raise GitHubError("no GitHub token: pass `github-token` (the default is the job's GITHUB_TOKEN)")
        if repository.count("/") != 1:
            raise GitHubError(f"GITHUB_REPOSITORY must be owner/name, got {repository!r}")
        self.api_url = api_url.rstrip("/")
        self.repo_path = f"/repos/{repository}"
        self._token = token
        self._transport = transport

    def redact(self, text: str) -> str:
        """Whatever the API echoes back (some proxies echo headers), the token is never shown."""
        return text.replace(self._token, "***")

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        return self._send(method, url, payload)[0]

    def paginate(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following the `Link: rel="next"` header page by page."""
        url: str | None = f"{self.api_url}{path}"
        while url:
            items, headers = self._send("GET", url, None)
            yield from items
            match = _NEXT_LINK.search(headers.get("link", ""))
            url = match.group(1) if match else None

    def _send(self, method: str, url: str, payload: dict[str, Any] | None) -> tuple[Any, dict[str, str]]:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "hsmsync-action",
        }
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode()
        try:
            resp = self._transport(HttpRequest(method, url, headers, body))
        except OSError as exc:
            raise GitHubError(self.redact(f"{method} {_path_of(url)}: {exc}")) from None
        if resp.status >= 400:
            raise GitHubError(self.redact(_failure(method, url, resp)))
        return (json.loads(resp.body) if resp.body else None), resp.headers


def _path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _failure(method: str, url: str, resp: HttpResponse) -> str:
    try:
        message = json.loads(resp.body).get("message", "")
    except (ValueError, AttributeError):
        message = resp.body[:200].decode("utf-8", "replace")
    hint = ""
    if resp.status in (401, 403, 404):
        hint = " (does the workflow grant `pull-requests: write` / `issues: write` to the token?)"
    return f"GitHub API {method} {_path_of(url)} answered {resp.status}: {message}{hint}"
