"""The spec itself as a backend: ``backend="numpy"``, always available."""

from __future__ import annotations

import numpy as np

from samcore.backend import Availability, Backend
from samcore.inputs import Prompts
from samcore.spec import decode


class NumpyBackend(Backend):
    """Runs ``samcore.spec.decode`` on the CPU, float32."""

    name = "numpy"
    aliases = ("spec", "reference")

    @classmethod
    def availability(cls) -> Availability:
        """Always available: NumPy is a core dependency."""
        return Availability(True, version=np.__version__, devices=("cpu",))

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The spec, as is."""
        p = prompts
        return decode(
            self.params, self.config, image_embedding, p.point_coords, p.point_labels, p.boxes, p.mask_input,
            multimask_output,
        )
