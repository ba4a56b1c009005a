"""The plain spec as a backend: ``backend="reference"``, always available, slow and readable.

It runs ``samcore.spec.decode`` as written (no per-image reuse, no reassociation), the
ground truth every other backend, the fast formulation included, is compared with.
"""

from __future__ import annotations

import numpy as np

from samcore.backend import Availability, Backend
from samcore.inputs import Prompts
from samcore.spec import decode


class ReferenceBackend(Backend):
    """Runs ``samcore.spec.decode`` on the CPU, float32; never chosen by ``backend="auto"``."""

    name = "reference"
    aliases = ("spec",)
    auto_priority = -1

    @classmethod
    def availability(cls) -> Availability:
        """Always available: NumPy is a core dependency."""
        return Availability(True, version=np.__version__, devices=("cpu",))

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The spec on the whole batch: logits [B, M, 4h, 4w], IoU [B, M]."""
        return decode(self.params, self.config, image_embedding, prompts.point_coords, prompts.point_labels,
                      prompts.boxes, prompts.mask_input, multimask_output)
