"""The service's limits and sizes, with the defaults ``samcore serve`` starts with."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from samcore.errors import InputError

#: Content types accepted by ``POST /v1/embeddings`` (the body is the image file itself).
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    """Limits of one service process.

    max_batch: images the encoder runs at once; max_wait_ms: how long the first image of a
    batch waits for others; max_queue: images waiting (beyond that: 503 + Retry-After);
    max_body_bytes: largest upload; max_pixels: largest decoded image (H * W);
    memory_cache_bytes / disk_cache_bytes: bounds of the embedding cache (0 disables a
    tier); cache_dir: the disk tier's folder (None: memory only); token: the bearer
    token ``/v1/*`` needs (None: open); retry_after_s: the Retry-After sent with a 503.
    """

    max_batch: int = 4
    max_wait_ms: float = 10.0
    max_queue: int = 32
    max_body_bytes: int = 20 * 2**20
    max_pixels: int = 40_000_000
    memory_cache_bytes: int = 512 * 2**20
    disk_cache_bytes: int = 4 * 2**30
    cache_dir: Path | None = None
    token: str | None = None
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_body_bytes", "max_pixels", "retry_after_s"):
            if getattr(self, name) < 1:
                raise InputError(f"{name}: expected a positive int, got {getattr(self, name)!r}")
        for name in ("max_wait_ms", "memory_cache_bytes", "disk_cache_bytes"):
            if getattr(self, name) < 0:
                raise InputError(f"{name}: expected a number >= 0, got {getattr(self, name)!r}")
