"""A bounded queue in front of the encoder that runs waiting images together.

The first image of a batch waits up to ``max_wait_ms`` for others, then up to
``max_batch`` images go to ``encode_batch`` on one worker thread (the event loop stays
free). At most ``max_queue`` images wait; beyond that ``submit`` raises ``QueueFull``
at once, so memory stays bounded whatever the load.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from samcore.embedding import Embedding
from samcore.serve.errors import QueueFull

#: Encodes images (uint8 [H, W, 3] RGB each) into one Embedding each, in order.
EncodeBatch = Callable[[Sequence[np.ndarray]], list[Embedding]]

log = logging.getLogger("samcore.serve")


class BatchQueue:
    """``await submit(image)`` -> its Embedding, encoded in a batch with other waiting images.

    Start with ``start()`` inside the running event loop, end with ``stop()``.
    """

    def __init__(self, encode_batch: EncodeBatch, max_batch: int, max_wait_ms: float, max_queue: int,
                 retry_after_s: int) -> None:
        self.encode_batch, self.max_batch, self.max_wait = encode_batch, max_batch, max_wait_ms / 1e3
        self.max_queue, self.retry_after_s = max_queue, retry_after_s
        self.batches = 0  # batches run so far (/healthz)
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="samcore-encoder")

    def start(self) -> None:
        """Create the queue and the worker task in the running event loop."""
        self._queue = asyncio.Queue(self.max_queue)
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """End the worker; images still waiting get an error."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        while self._queue is not None and not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("the service is stopping"))
        self._thread.shutdown(wait=True)

    @property
    def waiting(self) -> int:
        """Images in the queue (not counting the batch being encoded)."""
        return 0 if self._queue is None else self._queue.qsize()

    def full(self) -> bool:
        """Whether ``submit`` would raise ``QueueFull`` now."""
        return self._queue is not None and self._queue.full()

    async def submit(self, image: np.ndarray) -> Embedding:
        """Queue ``image`` (uint8 [H, W, 3]) and wait for its embedding; ``QueueFull`` when full.

        The encoder's exception, if it fails on this image, is raised here.
        """
        future = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((image, future))
        except asyncio.QueueFull:
            raise QueueFull(self.retry_after_s) from None
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = time.monotonic() + self.max_wait
            while len(batch) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), left))
                except asyncio.TimeoutError:
                    break
            batch = [(image, future) for image, future in batch if not future.done()]  # drop cancelled waits
            if not batch:
                continue
            self.batches += 1
            outcomes = await loop.run_in_executor(self._thread, self._encode, [image for image, _ in batch])
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _encode(self, images: list[np.ndarray]) -> list[Embedding | Exception]:
        """Encode a batch; when it fails, each image alone, so one bad image fails only itself."""
        try:
            return list(self.encode_batch(images))
        except Exception as exc:
            if len(images) == 1:
                log.exception("encoder failed on one image")
                return [exc]
        outcomes: list[Embedding | Exception] = []
        for image in images:
            outcomes.extend(self._encode([image]))
        return outcomes
