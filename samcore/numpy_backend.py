"""The fast formulation in NumPy as a backend: ``backend="numpy"``, always available.

It runs the spec's fast formulation (``samcore.fast``: per-image work done once
in ``set_image``, reassociated attention, cache-sized chunks), which the conformance
kit holds to the plain spec (``samcore.spec.decode``, the ``reference`` backend) within
float32 tolerance.
"""

from __future__ import annotations

import numpy as np

from samcore.backend import Availability, Backend, decode_in_steps
from samcore.fast import ImageFeatures, decode_fast, image_features
from samcore.inputs import Prompts

#: Prompts decoded together: one prompt's image tokens (4 MB at ViT-B size) stay in
#: cache better than a batch's; larger steps are memory-bound and slower per prompt.
PROMPTS_PER_STEP = 1


class NumpyBackend(Backend):
    """Runs ``samcore.fast.decode_fast`` on the CPU, float32."""

    name = "numpy"
    _features: ImageFeatures | None = None

    @classmethod
    def availability(cls) -> Availability:
        """Always available: NumPy is a core dependency."""
        return Availability(True, version=np.__version__, devices=("cpu",))

    def set_image(self, image_embedding: np.ndarray) -> None:
        """Compute the image's features once for every following prompt."""
        self._features = image_features(self.params, self.config, image_embedding)

    def _features_of(self, image_embedding: np.ndarray) -> ImageFeatures:
        if self._features is not None and self._features.embedding is image_embedding:
            return self._features
        return image_features(self.params, self.config, image_embedding)

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The fast formulation, ``requested_prompts_per_run`` (else ``PROMPTS_PER_STEP``) prompts at a time."""
        features = self._features_of(image_embedding)
        coords, labels = prompts.labelled_points()

        def step(part: slice) -> tuple[np.ndarray, np.ndarray]:
            mask = None if prompts.mask_input is None else prompts.mask_input[part]
            return decode_fast(self.params, self.config, features, coords[part], labels[part], mask, multimask_output)

        return decode_in_steps(prompts.batch, self.requested_prompts_per_run or PROMPTS_PER_STEP, step)
