"""hypothesis strategies for decoder prompts (any config, any grid)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

from samcore.config import DecoderConfig


@dataclasses.dataclass
class Case:
    """One drawn decoder call."""

    image_embedding: np.ndarray  # [1, C, h, w]
    point_coords: np.ndarray | None
    point_labels: np.ndarray | None
    boxes: np.ndarray | None
    mask_input: np.ndarray | None
    multimask_output: bool

    def kwargs(self) -> dict:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:  # what a failure prints: enough to rebuild the call
        parts = [f"image_embedding={list(self.image_embedding.shape)}"]
        for name in ("point_coords", "point_labels", "boxes"):
            value = getattr(self, name)
            parts.append(f"{name}={None if value is None else value.tolist()}")
        mask = self.mask_input
        parts.append(f"mask_input={None if mask is None else list(mask.shape)}")
        return f"Case({', '.join(parts)}, multimask_output={self.multimask_output})"


@st.composite
def decoder_cases(
    draw: st.DrawFn,
    config: DecoderConfig,
    grid: tuple[int, int],
    labels: tuple[int, ...] = (-1, 0, 1),
    max_batch: int = 8,
    max_points: int = 16,
) -> Case:
    """Prompts of every kind: 1..max_points points, with/without box and mask input."""
    h, w = grid
    frame_h, frame_w = config.frame_size(grid)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch = draw(st.integers(1, max_batch))
    kinds = draw(st.sampled_from(["points", "box", "points+box", "mask", "points+mask", "box+mask", "all"]))
    coords = point_labels = boxes = mask = None
    if "points" in kinds or kinds == "all":
        n = draw(st.integers(1, max_points))
        coords = (rng.random((batch, n, 2)) * [frame_w, frame_h]).astype(np.float32)
        point_labels = rng.choice(np.array(labels), size=(batch, n))
    if "box" in kinds or kinds == "all":
        corners = np.sort(rng.random((batch, 2, 2)) * [frame_w, frame_h], axis=1)
        boxes = corners.reshape(batch, 4).astype(np.float32)
    if "mask" in kinds or kinds == "all":
        mask = (4 * rng.standard_normal((batch, 1, 4 * h, 4 * w))).astype(np.float32)
    embedding = rng.standard_normal((1, config.embed_dim, h, w)).astype(np.float32)
    return Case(embedding, coords, point_labels, boxes, mask, draw(st.booleans()))
