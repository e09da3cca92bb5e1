"""The error a handler raises to answer with the service's error envelope."""

from __future__ import annotations


class ApiError(Exception):
    """Answered as `{"error": {"code": code, "message": message + " (Activity ID: <request id>)"}}`,
    with `"innererror": {"code": inner}` when given (a Key Vault 403: ForbiddenByPolicy or
    ForbiddenByRbac)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        inner: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.inner = inner
