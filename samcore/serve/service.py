"""The service's logic apart from HTTP: cache, in-flight de-duplication, the batch queue."""

from __future__ import annotations

import asyncio

from anyio import CapacityLimiter, to_thread
from starlette.concurrency import run_in_threadpool

from samcore.content_key import content_key
from samcore.embedding import Embedding
from samcore.serve.batching import BatchQueue, EncodeBatch
from samcore.serve.cache import EmbeddingCache
from samcore.serve.errors import QueueFull, ServiceError
from samcore.serve.images import decode_image
from samcore.serve.model import ModelInfo
from samcore.serve.settings import ServiceSettings

#: Images decoded at once (each up to max_pixels x 3 bytes): bounds memory under load.
DECODE_SLOTS = 4


class EmbeddingService:
    """Image bytes -> float32 embedding payload, from the cache or the encoder."""

    def __init__(self, encode_batch: EncodeBatch, model: ModelInfo, settings: ServiceSettings) -> None:
        self.model, self.settings = model, settings
        self.cache = EmbeddingCache(settings.memory_cache_bytes, settings.cache_dir, settings.disk_cache_bytes)
        self.queue = BatchQueue(encode_batch, settings.max_batch, settings.max_wait_ms, settings.max_queue,
                                settings.retry_after_s)
        self._in_flight: dict[str, asyncio.Task] = {}
        self._decode_slots: CapacityLimiter | None = None

    def start(self) -> None:
        """Start the batch queue's worker (inside the running event loop)."""
        self._decode_slots = CapacityLimiter(DECODE_SLOTS)
        self.queue.start()

    async def stop(self) -> None:
        """Stop the batch queue's worker."""
        await self.queue.stop()

    def key(self, image: bytes) -> str:
        """The content key of an image file's bytes for this model."""
        return content_key(image, self.model.sha256, self.model.preprocessing)

    async def cached(self, key: str) -> bytes | None:
        """The float32 payload of ``key`` if the cache has it."""
        return await run_in_threadpool(self.cache.get, key)

    async def embed(self, key: str, image: bytes) -> tuple[bytes, bool]:
        """(float32 payload, whether it was cached) of the image file ``image`` with key ``key``.

        The same image asked for twice at once is encoded once; an encoding goes on (and
        is cached) when the client that asked for it leaves. Raises ``ServiceError``
        (4xx bad image, 503 queue full, 500 encoder failure).
        """
        if (data := await self.cached(key)) is not None:
            return data, True
        task = self._in_flight.get(key)
        if task is None:
            if self.queue.full():  # refuse before decoding: the decode would be wasted
                raise QueueFull(self.settings.retry_after_s)
            task = asyncio.get_running_loop().create_task(self._encode(key, image))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task), False

    def _finished(self, key: str, task: asyncio.Task) -> None:
        del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every client left

    async def _encode(self, key: str, image: bytes) -> bytes:
        pixels = await to_thread.run_sync(decode_image, image, self.settings.max_pixels, limiter=self._decode_slots)
        try:
            embedding = await self.queue.submit(pixels)
        except ServiceError:
            raise
        except Exception as exc:
            raise ServiceError(500, "encoder_failed", f"the encoder failed on this image: "
                               f"{type(exc).__name__}: {exc}") from exc
        data = await run_in_threadpool(embedding.to_bytes, "float32")
        await run_in_threadpool(self.cache.put, key, data)
        return data


def payload(data: bytes, dtype: str) -> bytes:
    """A float32 payload as sent for ``dtype`` ("float32" as is, "float16" converted)."""
    if dtype == "float32":
        return data
    return Embedding.from_bytes(data).to_bytes(dtype)
