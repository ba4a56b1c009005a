"""Decoder outputs to what an application shows: resized masks and stability scores.

Exact to Meta's ``Sam.postprocess_masks`` and ``utils.amg.calculate_stability_score``.
"""

from __future__ import annotations

import numpy as np

from samcore.transforms import preprocess_shape


def linear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source rows i0, i1 and weight of i1 for each output row (torch, align_corners=False).

    The source position ``scale * (i + 0.5) - 0.5`` is rounded to float32 once, as
    torch's fused multiply-add does; rounding twice moves weights by up to an ulp of
    the position, i.e. 1e-4 of a logit on large images.
    """
    scale = np.float64(np.float32(in_size) / np.float32(out_size))
    src = np.maximum((scale * (np.arange(out_size) + 0.5) - 0.5).astype(np.float32), 0)
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)


def resize_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of the last two axes of x [..., h, w] to ``size`` (H, W), as
    ``F.interpolate(mode="bilinear", align_corners=False)`` (no antialiasing)."""
    r0, r1, rw = linear_taps(x.shape[-2], size[0])
    c0, c1, cw = linear_taps(x.shape[-1], size[1])
    rows = x[..., r0, :] * (1 - rw)[:, None] + x[..., r1, :] * rw[:, None]
    return rows[..., c0] * (1 - cw) + rows[..., c1] * cw


def postprocess_masks(
    low_res_logits: np.ndarray,
    original_size: tuple[int, int],
    frame_size: tuple[int, int] = (1024, 1024),
) -> np.ndarray:
    """Mask logits [B, M, 4h, 4w] -> logits [B, M, H, W] at the original image size (H, W).

    Upsample to the input frame, crop the padding the resize left (the image fills
    ``preprocess_shape(original_size, max(frame_size))``), then resize to the original.
    Threshold the result at 0 for binary masks.
    """
    input_h, input_w = preprocess_shape(original_size, max(frame_size))
    framed = resize_bilinear(np.asarray(low_res_logits, np.float32), frame_size)
    return resize_bilinear(framed[..., :input_h, :input_w], original_size)


def stability_score(masks: np.ndarray, mask_threshold: float = 0.0, threshold_offset: float = 1.0) -> np.ndarray:
    """IoU of the masks thresholded at ``t + offset`` and ``t - offset``: masks [..., H, W] -> [...].

    0/0 (a mask empty at both thresholds) gives NaN, as in Meta's code.
    """
    intersections = (masks > (mask_threshold + threshold_offset)).sum(axis=(-1, -2), dtype=np.int64)
    unions = (masks > (mask_threshold - threshold_offset)).sum(axis=(-1, -2), dtype=np.int64)
    with np.errstate(invalid="ignore"):
        return (intersections / unions).astype(np.float32)
