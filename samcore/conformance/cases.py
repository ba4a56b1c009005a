"""The kit's cases as plain arrays (no hypothesis): ``Case`` and the seeded ``build_case``
that ``strategies`` draws recipes for and ``verify`` runs shipped files on."""

from __future__ import annotations

import dataclasses

import numpy as np

from samcore.config import DecoderConfig

PROMPT_KINDS = ("points", "box", "points+box", "mask", "points+mask", "box+mask", "points+box+mask")


@dataclasses.dataclass(frozen=True)
class Case:
    """One decoder call's arguments (the keyword names of ``Decoder.predict``)."""

    image_embedding: np.ndarray  # [1, C, h, w]
    point_coords: np.ndarray | None  # [B, N, 2]
    point_labels: np.ndarray | None  # [B, N]
    boxes: np.ndarray | None  # [B, 4]
    mask_input: np.ndarray | None  # [B, 1, 4h, 4w]
    multimask_output: bool

    def kwargs(self) -> dict:
        """The arguments as ``Decoder.predict`` keywords."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @property
    def batch(self) -> int:
        """B, the number of prompts."""
        return next(a.shape[0] for a in (self.point_coords, self.boxes, self.mask_input) if a is not None)

    def row(self, i: int) -> Case:
        """Prompt i alone (batch of one)."""
        def pick(a):
            return None if a is None else a[i : i + 1]

        return Case(self.image_embedding, pick(self.point_coords), pick(self.point_labels), pick(self.boxes),
                    pick(self.mask_input), self.multimask_output)


def build_case(
    config: DecoderConfig,
    grid: tuple[int, int],
    seed: int,
    batch: int,
    kinds: str,
    points: int,
    labels: tuple[int, ...],
    multimask_output: bool,
) -> Case:
    """Seeded arrays of one case for any config and embedding grid (h, w): a standard-normal
    embedding, and per ``kinds`` (``PROMPT_KINDS``) ``points`` points inside the frame with
    labels drawn from ``labels``, a box, mask logits of spread 4."""
    h, w = grid
    frame_h, frame_w = config.frame_size(grid)
    rng = np.random.default_rng(seed)
    embedding = rng.standard_normal((1, config.embed_dim, h, w)).astype(np.float32)
    coords = point_labels = boxes = mask = None
    if "points" in kinds:
        coords = (rng.random((batch, points, 2)) * [frame_w, frame_h]).astype(np.float32)
        point_labels = rng.choice(np.array(labels), size=(batch, points)).astype(np.int64)
    if "box" in kinds:
        corners = np.sort(rng.random((batch, 2, 2)) * [frame_w, frame_h], axis=1)
        boxes = corners.reshape(batch, 4).astype(np.float32)
    if "mask" in kinds:
        mask = (4 * rng.standard_normal((batch, 1, 4 * h, 4 * w))).astype(np.float32)
    return Case(embedding, coords, point_labels, boxes, mask, multimask_output)
