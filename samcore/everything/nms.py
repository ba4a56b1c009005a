"""Box non-maximum suppression with torchvision's ``batched_nms`` semantics, in NumPy.

torchvision (``ops.nms`` / ``ops.batched_nms``): boxes (x0, y0, x1, y1) with areas
``(x1 - x0) * (y1 - y0)``; boxes visited by decreasing score (a stable sort: ties in
input order); a box is dropped when its IoU with a kept box of the same category is
strictly greater than the threshold; the kept indices come back by decreasing score.
Arithmetic in float32 as torchvision's float kernel does, so 0/0 IoU (empty boxes)
is NaN and suppresses nothing.
"""

from __future__ import annotations

import numpy as np


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas [N] of boxes [N, 4] (x0, y0, x1, y1), in the boxes' dtype (torchvision's ``box_area``)."""
    boxes = np.asarray(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS of one category: kept indices int64 [K] by decreasing score."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order]
    areas = box_area(boxes)
    alive = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if not alive[i]:
            continue
        rest = boxes[i + 1 :]
        w = np.maximum(np.minimum(boxes[i, 2], rest[:, 2]) - np.maximum(boxes[i, 0], rest[:, 0]), np.float32(0))
        h = np.maximum(np.minimum(boxes[i, 3], rest[:, 3]) - np.maximum(boxes[i, 1], rest[:, 1]), np.float32(0))
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / (areas[i] + areas[i + 1 :] - inter)
        alive[i + 1 :] &= ~(iou > iou_threshold)
    return order[alive]


def batched_nms(boxes: np.ndarray, scores: np.ndarray, idxs: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices int64 [K] of the boxes [N, 4] kept by NMS within each category ``idxs`` [N],
    sorted by decreasing ``scores`` [N] (ties in input order)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    idxs = np.asarray(idxs).reshape(-1)
    kept = [np.flatnonzero(idxs == c)[_nms(boxes[idxs == c], scores[idxs == c], iou_threshold)]
            for c in np.unique(idxs)]
    keep = np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")].astype(np.int64)
