"""The browser page: ``GET /``, its script and style, onnxruntime-web's files, all from this origin.

Every response carries the cross-origin isolation headers onnxruntime-web's threads need
(``SharedArrayBuffer``); nothing is fetched from another origin.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from samcore.serve.errors import ServiceError

#: The page's own files (in web/) and their media types.
PAGE_FILES = {
    "index.html": "text/html", "app.js": "text/javascript", "masks.js": "text/javascript", "style.css": "text/css",
}
#: onnxruntime-web's files the page loads (WASM build, threaded SIMD), from web/node_modules.
ORT_FILES = {
    "ort.wasm.min.mjs": "text/javascript",
    "ort-wasm-simd-threaded.mjs": "text/javascript",
    "ort-wasm-simd-threaded.wasm": "application/wasm",
}
ORT_DIST = Path("node_modules") / "onnxruntime-web" / "dist"
ISOLATION_HEADERS = [
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-embedder-policy", b"require-corp"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def default_web_dir() -> Path:
    """The page's folder: ``web/`` of the source tree (installed as ``samcore.web``)."""
    from importlib import resources

    return Path(str(resources.files("samcore.web")))


def web_routes(web_dir: Path) -> list[Route]:
    """``GET /`` (the page), ``/static/{name}`` (its files), ``/ort/{name}`` (onnxruntime-web)."""

    def serve(folder: Path, allowed: dict[str, str], hint: str):
        async def endpoint(request: Request) -> FileResponse:
            name = request.path_params.get("name", "index.html")
            path = folder / name
            if name not in allowed or not path.is_file():
                raise ServiceError(404, "not_found", f"{request.url.path}: no such file{hint}")
            return FileResponse(path, media_type=allowed[name], headers={"Cache-Control": "no-cache"})

        return endpoint

    page = serve(web_dir, PAGE_FILES, "")
    ort = serve(web_dir / ORT_DIST, ORT_FILES, f" (install onnxruntime-web: `npm ci` in {web_dir})")
    return [Route("/", page), Route("/static/{name}", page), Route("/ort/{name}", ort)]


class CrossOriginIsolation:
    """ASGI middleware: COOP/COEP/CORP headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def isolated_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *ISOLATION_HEADERS]
            await send(message)

        await self.app(scope, receive, isolated_send if scope["type"] == "http" else send)
