"""Structured access logs: one JSON object per request on the ``samcore.serve.access`` logger."""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("samcore.serve.access")


class AccessLog:
    """ASGI middleware: logs method, path, status, duration (ms), bytes in and out, client,
    request id (also sent back as ``X-Request-ID``) and the cache outcome of embeddings.

    A client that leaves before the answer is logged with status 499.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, request_id = time.perf_counter(), uuid.uuid4().hex[:16]
        record = {"request_id": request_id, "method": scope["method"], "path": scope["path"], "status": 499,
                  "bytes_in": 0, "bytes_out": 0, "client": (scope.get("client") or ("", 0))[0]}

        async def counting_receive() -> Message:
            message = await receive()
            record["bytes_in"] += len(message.get("body", b""))
            return message

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
                headers = dict(message.get("headers", []))
                if b"x-cache" in headers:
                    record["cache"] = headers[b"x-cache"].decode()
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body":
                record["bytes_out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, logging_send)
        except Exception:
            record["status"] = 500
            raise
        finally:
            record["ms"] = round((time.perf_counter() - start) * 1e3, 2)
            log.info(json.dumps(record), extra={"access": record})
