"""Errors the service answers with: a status, a machine-readable code and a message, as JSON."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse


class ServiceError(Exception):
    """An HTTP error with a JSON body ``{"error": code, "message": message}``."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, dict(headers or {})

    def response(self) -> JSONResponse:
        """The JSON response for this error."""
        return JSONResponse({"error": self.code, "message": self.message}, self.status, headers=self.headers)


class QueueFull(ServiceError):
    """The encoder's queue is full: 503, come back after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(503, "overloaded", f"the encoder queue is full; retry after {retry_after} s",
                         {"Retry-After": str(retry_after)})
