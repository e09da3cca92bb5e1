"""Which region of an HSM answered.

Every Managed HSM answer names the region that served it in `x-ms-keyvault-region`; a
multi-region HSM may answer consecutive calls from either region. `RegionPolicy` (in each HSM
client's pipeline) records every region that answered for each host during the run, discovery
included, so apply's read-back (`effect.py`) knows which regions must agree.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy

REGION_HEADER = "x-ms-keyvault-region"
UNKNOWN_REGION = "(unnamed)"  # an answer without the header: one region, named by nobody
_RBAC_PATH = "/providers/microsoft.authorization/"


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


class RegionLog:
    """The regions that answered, per HSM host (thread-safe: discovery reads from many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, set[str]] = {}

    def record(self, url: str, region: str) -> None:
        with self._lock:
            self._seen.setdefault(_host(url), set()).add(region)

    def regions(self, url: str) -> frozenset[str]:
        with self._lock:
            return frozenset(self._seen.get(_host(url), set()))

    def policy(self) -> RegionPolicy:
        return RegionPolicy(self)


class RegionPolicy(SansIOHTTPPolicy[Any, Any]):
    """Records the region of every answer to an RBAC read (a per-retry policy: every attempt
    counts). Reads only: they are what the read-back can be answered by, so a region that only
    ever took writes (or key calls) is not one the read-back could wait for in vain."""

    def __init__(self, log: RegionLog) -> None:
        self._log = log

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        http = request.http_request
        if http.method != "GET" or _RBAC_PATH not in http.url.lower():
            return
        region = response.http_response.headers.get(REGION_HEADER)
        if region:
            self._log.record(request.http_request.url, region)
