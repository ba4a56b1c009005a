"""The image encoder spec as an encoder backend: ``encoder_backend="numpy"``, always available.

It runs ``samcore.spec.image_encoder`` as written (the plain reference), float32 on
the CPU; it reports progress after each block.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from samcore.backend import Availability
from samcore.encoder_backend import EncoderBackend
from samcore.spec.image_encoder import image_encoder


class NumpyEncoder(EncoderBackend):
    """Runs ``samcore.spec.image_encoder.image_encoder`` on the CPU, float32."""

    name = "numpy"
    aliases = ("spec", "reference")
    reports_progress = True

    @classmethod
    def availability(cls) -> Availability:
        """Always available: NumPy is a core dependency."""
        return Availability(True, version=np.__version__, devices=("cpu",))

    def encode(self, images: np.ndarray, on_block: Callable[[int, int], None] | None = None) -> np.ndarray:
        """The spec: images float32 [B, 3, S, S] -> embedding float32 [B, C_out, g, g]."""
        return image_encoder(self.params, images, self.config, on_block)
