"""The Encoder facade: a picture in, an `Embedding` out, on any registered encoder backend."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from samcore.embedding import Embedding
from samcore.encoder_config import EncoderConfig
from samcore.errors import BackendError, InputError, InputTypeError
from samcore.registry import ENCODERS
from samcore.spec.preprocess import preprocess
from samcore.weights import default_weights_path, encoder_params, load_encoder_params, remembered_sha256


class Encoder:
    """SAM's image encoder on one backend, with Meta's preprocessing (``SamPredictor.set_image``).

    >>> enc = Encoder.from_weights("sam_vit_b.safetensors")
    >>> emb = enc.encode(image)   # uint8 [H, W, 3] -> Embedding([1, 256, 64, 64], original_size, input_size)
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        config: EncoderConfig | None = None,
        backend: str | Sequence[str] = "auto",
        device: str | None = None,
        dtype: str = "float32",
        model_id: str = "",
    ) -> None:
        """``params``: official key -> float array (``image_encoder.*``; other keys are ignored);
        ``config`` inferred from the shapes when None. ``backend``: a name registered under
        ``samcore.encoders``, ``"auto"`` or a preference list; ``device``: "cpu", "cuda", ...
        (None: the backend's best); ``dtype``: "float32" or what the backend offers;
        ``model_id``: recorded in each `Embedding` (the weights file's sha256)."""
        backend_class, device = ENCODERS.resolve(backend, device, dtype)
        self.params, self.config = encoder_params(params, config)
        self.backend = backend_class(self.params, self.config, device, dtype)
        self.model_id = model_id

    @classmethod
    def from_weights(
        cls,
        path: str | os.PathLike | None = None,
        backend: str | Sequence[str] = "auto",
        device: str | None = None,
        dtype: str = "float32",
        config: EncoderConfig | None = None,
    ) -> Encoder:
        """Load the image encoder of a safetensors file (official key names) onto a backend
        (see ``Encoder.__init__``). None: the bundled default model."""
        path = default_weights_path() if path is None else path
        params, config = load_encoder_params(path, config)
        return cls(params, config, backend, device, dtype, model_id=remembered_sha256(path))

    def preprocess(self, image: Any, image_format: str = "RGB") -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
        """uint8 [H, W, 3] -> (float32 [1, 3, S, S], original (H, W), input (h, w)), as Meta's predictor."""
        c = self.config
        return preprocess(image, c.img_size, c.pixel_mean, c.pixel_std, image_format)

    def encode(
        self, image: Any, image_format: str = "RGB", on_block: Callable[[int, int], None] | None = None
    ) -> Embedding:
        """Encode one picture, uint8 [H, W, 3] in ``image_format`` ("RGB" or "BGR").

        Returns the `Embedding`: features float32 [1, out_chans, g, g], the original
        size (H, W) and the resized image's size inside the frame. ``on_block(done, total)``
        is called after each block on backends that report progress (the numpy one).
        """
        images, original_size, input_size = self.preprocess(image, image_format)
        return Embedding(self.encode_images(images, on_block), original_size, input_size, self.model_id)

    def encode_images(self, images: np.ndarray, on_block: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Run the backend on preprocessed images float32 [B, 3, S, S] -> float32 [B, out_chans, g, g]."""
        size = self.config.img_size
        if not isinstance(images, np.ndarray) or images.dtype != np.float32:
            raise InputTypeError(f"images: expected a float32 array [B, 3, {size}, {size}], got "
                                 f"{getattr(images, 'dtype', type(images).__name__)}")
        if images.ndim != 4 or images.shape[1:] != (3, size, size) or images.shape[0] == 0:
            raise InputError(f"images: expected shape [B, 3, {size}, {size}], got {list(images.shape)}")
        progress = {"on_block": on_block} if on_block is not None and self.backend.reports_progress else {}
        features = self.backend.encode(images, **progress)
        g, expected = self.config.grid_size, (images.shape[0], self.config.out_chans)
        if not isinstance(features, np.ndarray) or features.shape != (*expected, g, g):
            got = getattr(features, "shape", type(features).__name__)
            raise BackendError(f"encoder backend {self.backend.name!r} returned {got}, expected {[*expected, g, g]}")
        return features.astype(np.float32, copy=False)
