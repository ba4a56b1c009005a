"""``GraphBackend``: the base of backends that run exported graph files in a runtime (ONNX
Runtime, LiteRT, ...). A subclass says how its files are named, exported, opened and run;
the base keeps what they share:

- files exported once per weights hash and options into ``samcore.cache`` (written
  atomically), reused when present, exported again when a cached file does not open or
  records other weights;
- one runtime handle (session, interpreter) per file, created once, under a lock;
- per-image features: ``set_image`` runs the per-image graph once; ``decode`` reuses them
  for that very embedding, computes them on the fly for another, and gives prompts with
  mask input the embedding itself (their dense prompt changes the image side).

No runtime is imported here.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from samcore.backend import Backend
from samcore.cache import open_cached, write_atomic
from samcore.config import DecoderConfig
from samcore.weights import params_sha256


class GraphBackend(Backend):
    """Exported files in a runtime; subclasses implement the five abstract methods."""

    #: Exports this class has run in this process (tests read it to prove a cache hit).
    exports: ClassVar[int] = 0

    def __init__(self, params: Mapping[str, np.ndarray], config: DecoderConfig, device: str, dtype: str) -> None:
        super().__init__(params, config, device, dtype)
        self.weights_sha256 = params_sha256(params, config)
        #: Held while a handle is created, and by runtimes that are not thread-safe while one runs.
        self.lock = threading.RLock()
        self._handles: dict[Hashable, Any] = {}
        self._paths: dict[Hashable, Path] = {}
        self._image: tuple[np.ndarray, dict[str, Any]] | None = None  # set_image's embedding, its features
        self.image_runs = 0  # runs of a per-image graph (tests count them)

    # --- what a subclass provides --------------------------------------------------------------

    @abc.abstractmethod
    def files(self, key: Hashable) -> tuple[tuple[Path, ...], int]:
        """The cache files one export for ``key`` writes, and which of them ``key``'s handle opens."""

    @abc.abstractmethod
    def export(self, key: Hashable) -> tuple[bytes, ...]:
        """The contents of ``files(key)[0]``, freshly exported."""

    @abc.abstractmethod
    def load(self, path: Path) -> tuple[Any, str | None]:
        """(handle, weights sha256 its metadata records) of a file; raises if it does not open."""

    @abc.abstractmethod
    def run_image(self, image_embedding: np.ndarray) -> dict[str, Any]:
        """The per-image graph's outputs for an embedding [1, C, h, w], by name."""

    # --- what the base does ----------------------------------------------------------------------

    def handle(self, key: Hashable) -> Any:
        """The runtime handle of ``key``'s file: created once, from the cached file (exported on a
        miss, or when the cached file does not open or records other weights)."""
        with self.lock:
            if key not in self._handles:
                self._paths[key], self._handles[key] = self._open(key)
            return self._handles[key]

    def model_files(self) -> dict[Hashable, Path]:
        """key -> the file of each handle created so far."""
        return dict(self._paths)

    def _open(self, key: Hashable) -> tuple[Path, Any]:
        paths, which = self.files(key)

        def export() -> None:
            for path, data in zip(paths, self.export(key), strict=True):
                write_atomic(path, data)

        handle, exported = open_cached(paths[which], self.weights_sha256, self.load, export)
        if exported:
            type(self).exports += 1
        return paths[which], handle

    def set_image(self, image_embedding: np.ndarray) -> None:
        """Run the per-image graph once for the following ``decode`` calls on this very array."""
        self._image = (image_embedding, self.features(image_embedding))

    def features(self, image_embedding: np.ndarray) -> dict[str, Any]:
        """``run_image``, counted in ``image_runs``."""
        self.image_runs += 1
        return self.run_image(image_embedding)

    def image_inputs(self, image_embedding: np.ndarray, with_mask_input: bool) -> dict[str, Any]:
        """The per-prompt graph's image-side inputs: the embedding itself with mask input, else
        ``set_image``'s features for that very array, else features computed now."""
        if with_mask_input:
            return {"image_embedding": np.ascontiguousarray(image_embedding, np.float32)}
        if self._image is not None and self._image[0] is image_embedding:
            return self._image[1]
        return self.features(image_embedding)
