"""A stand-in for ``torchvision.ops.boxes`` so Meta's automatic mask generator imports
without torchvision (which cannot be installed beside the CPU torch here).

Test infrastructure, not a port: ``box_area`` and ``batched_nms`` written in torch
from torchvision's documented semantics (``torchvision.ops.nms``: boxes visited by
decreasing score, a box dropped when its IoU with a kept box is strictly above the
threshold; ``batched_nms``: that, separately per category; kept indices by decreasing
score). Ties in score are visited in input order, as torchvision's CPU kernel's
stable sort does. It is deliberately independent of ``samcore.everything.nms``, so the
exactness test compares two implementations, not one with itself.
"""

from __future__ import annotations

import sys
import types

import torch


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas [N] of boxes [N, 4] (x1, y1, x2, y2)."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Kept indices int64 [K] of greedy NMS, by decreasing score."""
    order = torch.sort(scores, descending=True, stable=True).indices
    areas = box_area(boxes)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        w = (torch.minimum(boxes[i, 2], boxes[:, 2]) - torch.maximum(boxes[i, 0], boxes[:, 0])).clamp(min=0)
        h = (torch.minimum(boxes[i, 3], boxes[:, 3]) - torch.maximum(boxes[i, 1], boxes[:, 1])).clamp(min=0)
        inter = w * h
        suppressed |= inter / (areas[i] + areas - inter) > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each category ``idxs``; kept indices int64 [K] by decreasing score."""
    kept = [torch.nonzero(idxs == c).flatten()[nms(boxes[idxs == c], scores[idxs == c], iou_threshold)]
            for c in torch.unique(idxs)]
    keep = torch.sort(torch.cat(kept)).values if kept else torch.zeros(0, dtype=torch.int64)
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


def install() -> None:
    """Register ``torchvision``, ``torchvision.ops`` and ``torchvision.ops.boxes`` in
    ``sys.modules`` (when torchvision is absent) with this module's functions."""
    if "torchvision.ops.boxes" in sys.modules:
        return
    boxes = types.ModuleType("torchvision.ops.boxes")
    boxes.box_area, boxes.batched_nms, boxes.nms = box_area, batched_nms, nms
    ops = types.ModuleType("torchvision.ops")
    ops.boxes = boxes
    sys.modules.setdefault("torchvision", types.ModuleType("torchvision"))
    sys.modules["torchvision.ops"] = ops
    sys.modules["torchvision.ops.boxes"] = boxes
