"""The ASGI app: ``create_app(encode_batch, model, settings)`` -> a Starlette application.

Routes: ``POST /v1/embeddings`` (image file in the body), ``GET /v1/embeddings/{key}``,
``GET /v1/models``, ``GET /v1/models/{id}/web/{image,prompt}.onnx``, ``GET /healthz``, and the
browser page (``GET /``, see ``samcore.serve.web``).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from samcore.serve.access_log import AccessLog
from samcore.serve.auth import BearerAuth
from samcore.serve.batching import EncodeBatch
from samcore.serve.cache import is_key
from samcore.serve.errors import ServiceError
from samcore.serve.images import check_content_type
from samcore.serve.model import WEB_PARTS, ModelInfo
from samcore.serve.service import EmbeddingService, payload
from samcore.serve.settings import ServiceSettings
from samcore.serve.web import CrossOriginIsolation, default_web_dir, web_routes

#: Media type of the embedding payload (an ``Embedding`` as safetensors bytes).
PAYLOAD_TYPE = "application/vnd.samcore.embedding+safetensors"
PAYLOAD_DTYPES = ("float16", "float32")

log = logging.getLogger("samcore.serve")


def create_app(
    encode_batch: EncodeBatch, model: ModelInfo, settings: ServiceSettings | None = None, web_dir: Path | None = None
) -> Starlette:
    """The service for one model: ``encode_batch`` (list of uint8 [H, W, 3] RGB images -> list
    of Embeddings) runs on a worker thread; ``settings``: a ``ServiceSettings`` (None: the
    defaults); ``web_dir``: the page's folder (None: the installed ``samcore.web``)."""
    settings = settings or ServiceSettings()
    service = EmbeddingService(encode_batch, model, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        service.start()
        yield
        await service.stop()

    async def post_embedding(request: Request) -> Response:
        dtype = _dtype(request)
        check_content_type(request.headers.get("content-type"))
        image = await _read_body(request, settings.max_body_bytes)
        key = service.key(image)
        data, cached = await service.embed(key, image)
        return await _payload_response(request, key, data, dtype, cached)

    async def get_embedding(request: Request) -> Response:
        dtype, key = _dtype(request), request.path_params["key"]
        if not is_key(key) or (data := await service.cached(key)) is None:
            raise ServiceError(404, "not_found", f"key: no cached embedding {key!r}; POST the image to "
                               "/v1/embeddings to encode it")
        return await _payload_response(request, key, data, dtype, True)

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"models": [model.describe()]})

    async def web_onnx(request: Request) -> FileResponse:
        if request.path_params["model_id"] != model.sha256:
            raise ServiceError(404, "not_found", f"model_id: expected {model.sha256}, "
                               f"got {request.path_params['model_id']!r}")
        part = request.path_params["part"]
        if part not in WEB_PARTS:
            raise ServiceError(404, "not_found", f"part: expected one of {list(WEB_PARTS)}, got {part!r}")
        from samcore.serve.web_graphs import web_decoder_onnx  # onnx: imported when a browser asks

        path = await run_in_threadpool(web_decoder_onnx, model, part)
        return FileResponse(path, media_type="application/octet-stream", headers={"ETag": f'"{path.stem}"'})

    async def healthz(request: Request) -> JSONResponse:
        queue = service.queue
        return JSONResponse({"status": "ok", "model": model.sha256, "queue_waiting": queue.waiting,
                             "queue_limit": settings.max_queue, "batches": queue.batches,
                             "cache_entries": len(service.cache)})

    async def service_error(request: Request, exc: ServiceError) -> Response:
        return exc.response()

    async def client_left(request: Request, exc: ClientDisconnect) -> Response:
        return Response(status_code=499)  # nobody reads it; the access log records the 499

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return ServiceError(500, "internal_error", f"{type(exc).__name__}: {exc}").response()

    routes = [
        Route("/v1/embeddings", post_embedding, methods=["POST"]),
        Route("/v1/embeddings/{key}", get_embedding),
        Route("/v1/models", models),
        Route("/v1/models/{model_id}/web/{part}.onnx", web_onnx),
        Route("/healthz", healthz),
        *web_routes(web_dir or default_web_dir()),
    ]
    middleware = [Middleware(AccessLog), Middleware(CrossOriginIsolation)]
    if settings.token:
        middleware.append(Middleware(BearerAuth, token=settings.token))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers={
        ServiceError: service_error, ClientDisconnect: client_left, Exception: server_error})
    app.state.service = service
    return app


def _dtype(request: Request) -> str:
    dtype = request.query_params.get("dtype", "float16")
    if dtype not in PAYLOAD_DTYPES:
        raise ServiceError(400, "bad_dtype", f"dtype: expected one of {list(PAYLOAD_DTYPES)}, got {dtype!r}")
    return dtype


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, 413 as soon as it (or its Content-Length) passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ServiceError(413, "body_too_large", f"body: expected at most {limit} bytes, got {declared}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ServiceError(413, "body_too_large", f"body: expected at most {limit} bytes, got more")
        chunks.append(chunk)
    if not size:
        raise ServiceError(400, "empty_body", "body: expected an image file, got 0 bytes")
    return b"".join(chunks)


async def _payload_response(request: Request, key: str, data: bytes, dtype: str, cached: bool) -> Response:
    headers = {"ETag": f'"{key}"', "Location": f"/v1/embeddings/{key}", "X-Cache": "hit" if cached else "miss",
               "Cache-Control": "private, max-age=31536000, immutable"}
    if request.headers.get("if-none-match") == f'"{key}"':
        return Response(status_code=304, headers=headers)
    body = await run_in_threadpool(payload, data, dtype)
    return Response(body, media_type=PAYLOAD_TYPE, headers=headers)
