"""``samcore serve``: the embedding service (and the browser page) on uvicorn."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from samcore.extras import requires_extra


def _serve(args: argparse.Namespace) -> None:
    """Load the encoder, build the app and run it until interrupted; Starlette and uvicorn are imported here."""
    with requires_extra("serve", "samcore serve"):
        import uvicorn

        from samcore.serve.app import create_app
    from samcore.cache import cache_dir
    from samcore.encoder import Encoder
    from samcore.serve.encoding import batch_encoder, describe_model
    from samcore.serve.settings import ServiceSettings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    encoder = Encoder.from_weights(args.weights, backend=args.backend, device=args.device, dtype=args.dtype)
    settings = ServiceSettings(
        max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, max_queue=args.max_queue,
        max_body_bytes=int(args.max_body_mb * 2**20), max_pixels=int(args.max_megapixels * 1e6),
        memory_cache_bytes=int(args.cache_memory_mb * 2**20), disk_cache_bytes=int(args.cache_disk_mb * 2**20),
        cache_dir=args.cache_dir or cache_dir("serve"), token=args.token,
    )
    app = create_app(batch_encoder(encoder), describe_model(encoder, args.weights), settings, args.web_dir)
    print(f"samcore serve: encoder {encoder.backend.name} ({encoder.backend.device}), "
          f"page and API on http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning",
                limit_concurrency=args.limit_concurrency, timeout_graceful_shutdown=5)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the subcommands."""
    p = sub.add_parser("serve", help="run the embedding service and the browser page (needs the serve extra)")
    p.add_argument("-w", "--weights", required=True, help="safetensors SAM weights with the image encoder")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--token", help="bearer token the API (/v1/*) requires (default: none)")
    p.add_argument("--backend", default="auto", help="encoder backend name or 'auto'")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps, ... (default: the backend's best)")
    p.add_argument("--dtype", default="float32", help="encoder compute dtype (what the backend offers)")
    p.add_argument("--max-batch", type=int, default=4, help="images encoded together (B)")
    p.add_argument("--max-wait-ms", type=float, default=10.0, help="how long a batch waits to fill (T)")
    p.add_argument("--max-queue", type=int, default=32, help="images waiting; beyond: 503 + Retry-After")
    p.add_argument("--max-body-mb", type=float, default=20.0, help="largest upload, MiB")
    p.add_argument("--max-megapixels", type=float, default=40.0, help="largest image, million pixels")
    p.add_argument("--cache-memory-mb", type=float, default=512.0, help="memory cache of embeddings, MiB")
    p.add_argument("--cache-disk-mb", type=float, default=4096.0, help="disk cache of embeddings, MiB (0: memory only)")
    p.add_argument("--cache-dir", type=Path,
                   help="disk cache folder (default: $SAMCORE_CACHE or ~/.cache/samcore/serve)")
    p.add_argument("--limit-concurrency", type=int, default=256, help="open connections; beyond: 503 from uvicorn")
    p.add_argument("--web-dir", type=Path, help="the page's folder (default: the installed samcore.web)")
    p.set_defaults(run=_serve)
