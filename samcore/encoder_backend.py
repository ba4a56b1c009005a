"""The EncoderBackend protocol: what every port of the image encoder provides.

Separate from `samcore.backend.Backend` (the decoder's): a port registers its
encoder under the ``samcore.encoders`` entry point group, usually under the same
name as its decoder. It receives preprocessed float32 images and returns the
float32 embedding; its tolerance is relative to the embedding's RMS, since the
deep stack accumulates rounding in proportion to the activations' scale.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from samcore.backend import Availability
from samcore.encoder_config import EncoderConfig
from samcore.errors import BackendError
from samcore.weights.encoder_weights import validate_encoder
from samcore.weights.safetensors_io import safetensors_dtype

#: float32 ports: max |port - spec| <= this x RMS(spec embedding).
FLOAT32_RMS_TOLERANCE = 1e-4


class EncoderBackend(abc.ABC):
    """One port of ``samcore.spec.image_encoder``. Subclasses set the class attributes
    and implement ``availability`` and ``encode``."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    device_kinds: ClassVar[tuple[str, ...]] = ("cpu",)  # every kind it can ever use
    dtypes: ClassVar[tuple[str, ...]] = ("float32",)
    #: dtype -> allowed max |port - spec| relative to the RMS of the spec's embedding.
    tolerances: ClassVar[Mapping[str, float]] = {"float32": FLOAT32_RMS_TOLERANCE}
    #: Higher is preferred by ``backend="auto"`` among available encoder backends.
    auto_priority: ClassVar[int] = 0
    #: Whether ``encode`` takes ``on_block(done, total)``, called after each block (progress).
    reports_progress: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, np.ndarray], config: EncoderConfig, device: str, dtype: str) -> None:
        """``params``: official key -> float32 array (``image_encoder.*``, validated);
        ``device``: a kind this backend reports available; ``dtype``: one of ``dtypes``.
        Refuses, as ``Backend.__init__`` does, an undeclared dtype (``BackendError``) and
        params that do not fit the config (``WeightsError``)."""
        if dtype not in self.dtypes:
            raise BackendError(f"dtype: expected one of {list(self.dtypes)} for encoder backend {self.name!r}, "
                               f"got {dtype!r}")
        validate_encoder({k: np.shape(v) for k, v in params.items()},
                         {k: safetensors_dtype(np.asarray(v)) for k, v in params.items()}, config)
        self.params = params
        self.config = config
        self.device = device
        self.dtype = dtype

    @classmethod
    @abc.abstractmethod
    def availability(cls) -> Availability:
        """Is the runtime importable and working here, and which devices exist."""

    @abc.abstractmethod
    def encode(self, images: np.ndarray) -> np.ndarray:
        """Preprocessed images float32 [B, 3, S, S] (S = ``config.img_size``) -> the
        embedding float32 [B, out_chans, S / patch, S / patch], equal to
        ``samcore.spec.image_encoder.image_encoder`` within ``tolerances[dtype]`` x its RMS."""
