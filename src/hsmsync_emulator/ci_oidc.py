"""Simulated CI OIDC endpoints: what GitHub Actions and Azure Pipelines give a job to sign in with.

GitHub Actions (a job with `id-token: write`) sets ACTIONS_ID_TOKEN_REQUEST_URL and
ACTIONS_ID_TOKEN_REQUEST_TOKEN; `GET <url>&audience=api://AzureADTokenExchange` with
`Authorization: Bearer <request token>` answers `{"value": <JWT>}` signed by the issuer
https://token.actions.githubusercontent.com. Azure Pipelines sets SYSTEM_OIDCREQUESTURI;
`POST <uri>?api-version=7.1&serviceConnectionId=<id>` with `Authorization: Bearer
<System.AccessToken>` answers `{"oidcToken": <JWT>}` signed by https://vstoken.dev.azure.com/<org>.

Each simulated job is registered by a test (`github_job`, `pipelines_job`) with the subject its
tokens carry, and gets its own URL and request secret. The token service trusts these issuers'
keys (and no other issuer) for client assertions.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

from hsmsync_emulator.server import Request, Response
from hsmsync_emulator.tokens import (
    FEDERATION_AUDIENCE,
    GITHUB_ISSUER,
    PIPELINES_ISSUER,
    SigningKey,
)

_GITHUB, _PIPELINES = "github-actions", "azure-pipelines"
_OIDC_LIFETIME = 300


@dataclass
class SimulatedJob:
    kind: str
    subject: str
    request_token: str
    url: str
    service_connection_id: str = ""
    lifetime: int = _OIDC_LIFETIME
    issued: list[str] = field(default_factory=list)  # every OIDC token handed out, in order


class SimulatedCi:
    """The GitHub Actions and Azure Pipelines OIDC endpoints, served by the token service's port."""

    PREFIX = "/_simulated/"

    def __init__(self) -> None:
        self.keys = {
            GITHUB_ISSUER: SigningKey("github-actions"),
            PIPELINES_ISSUER: SigningKey("azure-pipelines"),
        }
        self._jobs: dict[str, SimulatedJob] = {}
        self._lock = threading.Lock()
        self.base_url = ""  # set by the emulator once the port is known

    def key_for(self, issuer: str) -> SigningKey | None:
        return self.keys.get(issuer)

    def _register(self, kind: str, subject: str, path: str, service_connection_id: str = "") -> SimulatedJob:
        job_id = uuid.uuid4().hex
        url = f"{self.base_url}{self.PREFIX}{kind}/{job_id}/{path}"
        job = SimulatedJob(kind, subject, secrets.token_urlsafe(24), url, service_connection_id)
        with self._lock:
            self._jobs[job_id] = job
        return job

    def github_job(self, subject: str) -> SimulatedJob:
        """A job of a workflow with `id-token: write`, e.g. subject `repo:contoso/hsm:ref:refs/heads/main`."""
        return self._register(_GITHUB, subject, "idtoken?api-version=2.0")

    def pipelines_job(self, subject: str, service_connection_id: str) -> SimulatedJob:
        """A pipeline job using a workload-identity service connection (subject `sc://org/project/name`)."""
        return self._register(_PIPELINES, subject, "oidctoken", service_connection_id=service_connection_id)

    def handle(self, request: Request) -> Response:
        parts = request.path[len(self.PREFIX) :].split("/")
        with self._lock:
            job = self._jobs.get(parts[1]) if len(parts) == 3 else None
        if job is None or parts[0] != job.kind:
            return Response(404, {"message": "no such job"})
        if request.headers.get("Authorization", "") != f"Bearer {job.request_token}":
            return Response(401, {"message": "Bad credentials"})
        if job.kind == _GITHUB:
            if request.method != "GET":
                return Response(405, {"message": "method not allowed"})
            token = self._sign(job, GITHUB_ISSUER, request.param("audience") or "https://github.com/contoso")
            return Response(200, {"count": len(job.issued), "value": token})
        if request.method != "POST" or request.param("serviceConnectionId") != job.service_connection_id:
            return Response(
                400, {"message": "serviceConnectionId does not name this job's service connection"}
            )
        return Response(200, {"oidcToken": self._sign(job, PIPELINES_ISSUER, FEDERATION_AUDIENCE)})

    def _sign(self, job: SimulatedJob, issuer: str, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "sub": job.subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + job.lifetime,
            "jti": str(uuid.uuid4()),
        }
        token = self.keys[issuer].sign(claims)
        with self._lock:
            job.issued.append(token)
        return token
