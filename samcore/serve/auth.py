"""Bearer-token check for the API (``/v1/*``); the page and ``/healthz`` stay open."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from samcore.serve.errors import ServiceError

PROTECTED_PREFIX = "/v1/"


class BearerAuth:
    """ASGI middleware: a ``/v1/*`` request without ``Authorization: Bearer <token>`` gets a 401 JSON."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIX):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                error = ServiceError(401, "unauthorized", "Authorization: expected 'Bearer <token>' with the "
                                     "service's token, got " + ("a wrong token" if given else "none"),
                                     {"WWW-Authenticate": "Bearer"})
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)
