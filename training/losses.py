"""SAM's training losses: focal + dice per mask (20:1), and the IoU head's mean squared error."""

from __future__ import annotations

import torch
import torch.nn.functional as F

FOCAL_WEIGHT = 20.0


def mask_losses(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """20 x focal + dice of each mask: logits [P, M, H, W], target float {0, 1} [P, H, W] -> [P, M]."""
    target = target[:, None].expand_as(logits)
    prob = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    alpha = 0.25 * target + 0.75 * (1 - target)
    focal = (alpha * ce * (1 - p_t) ** 2).mean(dim=(2, 3))
    dice = 1 - (2 * (prob * target).sum(dim=(2, 3)) + 1) / (prob.sum(dim=(2, 3)) + target.sum(dim=(2, 3)) + 1)
    return FOCAL_WEIGHT * focal + dice


def mask_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of each thresholded mask with the target: logits [P, M, H, W], target [P, H, W] -> [P, M]."""
    pred = logits > 0
    truth = target[:, None] > 0.5
    inter = (pred & truth).sum(dim=(2, 3)).float()
    union = (pred | truth).sum(dim=(2, 3)).float()
    return inter / union.clamp(min=1)
