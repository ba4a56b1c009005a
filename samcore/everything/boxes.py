"""Boxes of masks and moving results between a crop and the whole image.

Exact to Meta's ``batched_mask_to_box``, ``box_xyxy_to_xywh``, ``is_box_near_crop_edge``
and the ``uncrop_*`` helpers of ``segment_anything.utils.amg``. Boxes are
(x0, y0, x1, y1) with x1, y1 the last pixel inside (not one past it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def batched_mask_to_box(masks: np.ndarray) -> np.ndarray:
    """int64 [..., 4] boxes around bool masks [..., H, W]; [0, 0, 0, 0] for an empty mask."""
    masks = np.asarray(masks, dtype=bool)
    h, w = masks.shape[-2:]
    rows, cols = masks.any(axis=-1), masks.any(axis=-2)  # [..., H], [..., W]
    empty = ~rows.any(axis=-1)
    top = np.argmax(rows, axis=-1)
    bottom = h - 1 - np.argmax(rows[..., ::-1], axis=-1)
    left = np.argmax(cols, axis=-1)
    right = w - 1 - np.argmax(cols[..., ::-1], axis=-1)
    boxes = np.stack([left, top, right, bottom], axis=-1).astype(np.int64)
    boxes[empty] = 0
    return boxes


def box_xyxy_to_xywh(box: np.ndarray) -> np.ndarray:
    """Box(es) [..., 4] (x0, y0, x1, y1) -> (x0, y0, width, height), same dtype."""
    box = np.array(box)
    box[..., 2:] -= box[..., :2]
    return box


def uncrop_boxes_xyxy(boxes: np.ndarray, crop_box: Sequence[int]) -> np.ndarray:
    """Boxes [..., 4] in a crop's pixels -> the whole image's (adds the crop's corner)."""
    x0, y0 = crop_box[:2]
    return np.asarray(boxes) + np.array([x0, y0, x0, y0])


def uncrop_points(points: np.ndarray, crop_box: Sequence[int]) -> np.ndarray:
    """Points [..., 2] (x, y) in a crop's pixels -> the whole image's."""
    return np.asarray(points) + np.array(crop_box[:2])


def uncrop_masks(masks: np.ndarray, crop_box: Sequence[int], orig_h: int, orig_w: int) -> np.ndarray:
    """Masks [..., h, w] of a crop -> [..., orig_h, orig_w], zero outside the crop."""
    x0, y0, x1, y1 = crop_box
    if (x0, y0, x1, y1) == (0, 0, orig_w, orig_h):
        return masks
    pad = [(0, 0)] * (masks.ndim - 2) + [(y0, orig_h - y1), (x0, orig_w - x1)]
    return np.pad(masks, pad)


def is_box_near_crop_edge(
    boxes: np.ndarray, crop_box: Sequence[int], orig_box: Sequence[int], atol: float = 20.0
) -> np.ndarray:
    """bool [N]: boxes [N, 4] (crop pixels) with a side within ``atol`` pixels of the
    crop's edge where that edge is not also the image's (``orig_box``)."""
    boxes = uncrop_boxes_xyxy(boxes, crop_box).astype(np.float32)
    near_crop = np.abs(boxes - np.asarray(crop_box, np.float32)) <= np.float32(atol)
    near_image = np.abs(boxes - np.asarray(orig_box, np.float32)) <= np.float32(atol)
    return (near_crop & ~near_image).any(axis=1)
