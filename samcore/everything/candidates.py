"""One batch of grid prompts' masks, filtered as Meta's ``_process_batch`` filters them.

Predicted IoU is thresholded first, on the decoder's output, before any mask is
upsampled (the score does not depend on the resize, so this is exact). The survivors'
logits are then resized to the crop's size a few at a time (bounded memory), strip by
strip (``binary_masks_with_stability``: the binary mask and the stability score's two
areas, as Meta computes them on the upsampled logits, without the float masks), then
each mask's box. Masks are kept bit-packed until NMS has
chosen the final ones, so no run-length encoding is spent on masks NMS drops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from samcore.everything.boxes import batched_mask_to_box, is_box_near_crop_edge
from samcore.postprocess import binary_masks_with_stability

#: Masks resized at once: at most this many pixels (bool masks, 16 MB).
PIXELS_PER_CHUNK = 1 << 24


@dataclasses.dataclass
class Candidates:
    """N masks of one crop: scores, boxes and points in the crop's pixels, bit-packed masks."""

    iou: np.ndarray  # float32 [N], predicted IoU
    stability: np.ndarray  # float32 [N]
    boxes: np.ndarray  # int64 [N, 4] (x0, y0, x1, y1), crop pixels
    points: np.ndarray  # float64 [N, 2] (x, y), crop pixels: the prompt of each mask
    packed: np.ndarray  # uint8 [N, ceil(h*w/8)], np.packbits of the [h, w] masks

    def take(self, keep: np.ndarray) -> Candidates:
        """The candidates at ``keep`` (indices or a bool mask [N])."""
        return Candidates(*(getattr(self, f.name)[keep] for f in dataclasses.fields(self)))

    @classmethod
    def concat(cls, parts: Sequence[Candidates], crop_size: tuple[int, int]) -> Candidates:
        """All parts' candidates, in order (none: no candidates of a crop of ``crop_size`` (h, w))."""
        if not parts:
            return cls(np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros((0, 4), np.int64),
                       np.zeros((0, 2)), np.zeros((0, (crop_size[0] * crop_size[1] + 7) // 8), np.uint8))
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls)))


def unpack_masks(packed: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bit-packed masks uint8 [N, B] -> bool [N, h, w] for a crop of ``size`` (h, w)."""
    h, w = size
    return np.unpackbits(packed, axis=1, count=h * w).reshape(-1, h, w).astype(bool)


def filter_batch(
    low_res: np.ndarray,
    iou: np.ndarray,
    points: np.ndarray,
    crop_size: tuple[int, int],
    frame: tuple[int, int],
    crop_box: Sequence[int],
    image_size: tuple[int, int],
    pred_iou_thresh: float,
    stability_score_thresh: float,
    stability_score_offset: float,
) -> Candidates:
    """Masks of P prompts -> the candidates that pass Meta's per-batch filters.

    low_res: float32 [P, M, 4h, 4w] logits; iou: [P, M]; points: float64 [P, 2] in the
    crop's pixels; crop_size (h, w) of the crop; frame (H, W) of the encoder's input;
    crop_box [x0, y0, x1, y1] and image_size (H, W) of the whole image, for dropping
    masks that touch a crop edge inside the image.
    """
    m = low_res.shape[1]
    low_res = low_res.reshape(-1, *low_res.shape[2:])
    iou = iou.reshape(-1)
    points = np.repeat(points, m, axis=0)
    if pred_iou_thresh > 0.0:
        keep = iou > pred_iou_thresh
        low_res, iou, points = low_res[keep], iou[keep], points[keep]
    chunk = max(1, PIXELS_PER_CHUNK // (crop_size[0] * crop_size[1]))
    parts = []
    orig_box = [0, 0, image_size[1], image_size[0]]
    for start in range(0, len(iou), chunk):
        part = slice(start, start + chunk)
        masks, stability = binary_masks_with_stability(low_res[part], crop_size, frame, 0.0, stability_score_offset)
        keep = stability >= stability_score_thresh if stability_score_thresh > 0.0 else np.ones(len(masks), bool)
        masks = masks[keep]
        boxes = batched_mask_to_box(masks)
        inside = ~is_box_near_crop_edge(boxes, crop_box, orig_box)
        masks = masks[inside]
        parts.append(
            Candidates(
                iou[part][keep][inside],
                stability[keep][inside],
                boxes[inside],
                points[part][keep][inside],
                np.packbits(masks.reshape(len(masks), crop_size[0] * crop_size[1]), axis=1),
            )
        )
    return Candidates.concat(parts, crop_size)
