"""A fake GitHub REST API on a loopback port: issue comments and issues, paginated like GitHub's.

Each token maps to a login; what that login posts carries it as `user.login`, as GitHub does. Every
request is logged (method, path, Authorization header) so tests can check what was sent.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO = "contoso/hsm-access"


@dataclass
class FakeGitHub:
    tokens: dict[str, str]  # token -> login
    page_limit: int = 100
    echo_auth_in_errors: bool = False
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # PR number -> comments
    issues: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    url: str = ""
    _next_id: int = 1000

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_comment(self, pr: int, login: str, body: str) -> dict[str, Any]:
        comment = {"id": self.new_id(), "body": body, "user": {"login": login}}
        comment["html_url"] = f"https://github.example/{REPO}/pull/{pr}#issuecomment-{comment['id']}"
        self.comments.setdefault(pr, []).append(comment)
        return comment


def serve(fake: FakeGitHub) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
            pass

        def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else {}

        def _route(self, method: str) -> None:
            auth = self.headers.get("Authorization", "")
            fake.requests.append((method, self.path, auth))
            login = fake.tokens.get(auth.removeprefix("Bearer "))
            if login is None or fake.echo_auth_in_errors:
                message = f"Bad credentials (got {auth})" if fake.echo_auth_in_errors else "Bad credentials"
                return self._answer(401 if login is None else 403, {"message": message})
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            path = parts.path.removeprefix(f"/repos/{REPO}")
            if m := re.fullmatch(r"/issues/(\d+)/comments", path):
                pr = int(m.group(1))
                if method == "GET":
                    return self._page(fake.comments.get(pr, []), query)
                return self._answer(201, fake.add_comment(pr, login, self._body()["body"]))
            if m := re.fullmatch(r"/issues/comments/(\d+)", path):
                return self._edit_comment(int(m.group(1)), login)
            if path == "/issues":
                return self._issues(method, query, login)
            if m := re.fullmatch(r"/issues/(\d+)", path):
                issue = next(i for i in fake.issues if i["number"] == int(m.group(1)))
                issue.update(self._body())
                return self._answer(200, issue)
            return self._answer(404, {"message": "Not Found"})

        def _edit_comment(self, comment_id: int, login: str) -> None:
            for comment in (c for cs in fake.comments.values() for c in cs):
                if comment["id"] == comment_id:
                    if comment["user"]["login"] != login:
                        return self._answer(403, {"message": "not the author"})
                    comment["body"] = self._body()["body"]
                    return self._answer(200, comment)
            return self._answer(404, {"message": "Not Found"})

        def _issues(self, method: str, query: dict[str, str], login: str) -> None:
            if method == "GET":
                wanted = [
                    i
                    for i in fake.issues
                    if i["state"] == query.get("state", "open")
                    and (not query.get("labels") or query["labels"] in i["labels"])
                ]
                return self._page(wanted, query)
            body = self._body()
            number = fake.new_id()
            issue = {
                "number": number,
                "title": body["title"],
                "body": body["body"],
                "labels": body.get("labels", []),
                "state": "open",
                "user": {"login": login},
                "html_url": f"https://github.example/{REPO}/issues/{number}",
            }
            fake.issues.append(issue)
            return self._answer(201, issue)

        def _page(self, items: list[dict[str, Any]], query: dict[str, str]) -> None:
            size = min(int(query.get("per_page", 30)), fake.page_limit)
            page = int(query.get("page", 1))
            chunk = items[(page - 1) * size : page * size]
            headers = {}
            if page * size < len(items):
                nxt = dict(query, page=str(page + 1))
                qs = "&".join(f"{k}={v}" for k, v in nxt.items())
                headers["Link"] = f'<{fake.url}{urlsplit(self.path).path}?{qs}>; rel="next"'
            # GitHub serializes labels as objects; the client only needs them filtered server-side.
            return self._answer(200, chunk, headers)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._route("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._route("POST")

        def do_PATCH(self) -> None:  # noqa: N802
            self._route("PATCH")

    return Handler
