"""Decoder outputs to what an application shows: resized masks and stability scores.

Exact to Meta's ``Sam.postprocess_masks`` and ``utils.amg.calculate_stability_score``.
``postprocess_masks`` is the readable spec; ``binary_masks`` computes its thresholded
result fast (``samcore.fast.mask_resize``), held to it by tests/test_mask_resize.py.
"""

from __future__ import annotations

import numpy as np

from samcore.errors import InputError
from samcore.fast.mask_resize import binary_masks_fast, masks_and_counts
from samcore.inputs import check_image_size
from samcore.spec.ops import linear_taps
from samcore.transforms import preprocess_shape


def _resize_with_taps(x: np.ndarray, rows: tuple, cols: tuple) -> np.ndarray:
    """Bilinear resize of the last two axes of x [..., h, w] with precomputed row and column taps."""
    r0, r1, rw = rows
    c0, c1, cw = cols
    rows_done = x[..., r0, :] * (1 - rw)[:, None] + x[..., r1, :] * rw[:, None]
    return rows_done[..., c0] * (1 - cw) + rows_done[..., c1] * cw


def resize_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of the last two axes of x [..., h, w] to ``size`` (H, W), as
    ``F.interpolate(mode="bilinear", align_corners=False)`` (no antialiasing)."""
    return _resize_with_taps(x, linear_taps(x.shape[-2], size[0]), linear_taps(x.shape[-1], size[1]))


def _checked(
    low_res_logits: np.ndarray, original_size: tuple[int, int], frame_size: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Checked float32 logits, original size, frame size, and the part of the frame the image fills."""
    original_size = check_image_size("original_size", original_size)
    frame_size = check_image_size("frame_size", frame_size)
    logits = np.asarray(low_res_logits, np.float32)
    if logits.ndim < 2 or 0 in logits.shape[-2:]:
        raise InputError(f"low_res_logits: expected [..., 4h, 4w] with h, w >= 1, got shape {list(logits.shape)}")
    input_size = preprocess_shape(original_size, max(frame_size))
    if 0 in input_size:
        raise InputError(f"original_size: expected an aspect ratio the {max(frame_size)}-pixel frame can hold (both "
                         f"sides >= 1 pixel once the long side is {max(frame_size)}), got {original_size!r}")
    return logits, original_size, frame_size, input_size


def postprocess_masks(
    low_res_logits: np.ndarray,
    original_size: tuple[int, int],
    frame_size: tuple[int, int] = (1024, 1024),
) -> np.ndarray:
    """Mask logits [B, M, 4h, 4w] -> logits [B, M, H, W] at the original image size (H, W).

    Upsample to the input frame, crop the padding the resize left (the image fills
    ``preprocess_shape(original_size, max(frame_size))``), then resize to the original.
    Threshold the result at 0 for binary masks. The padding's rows and columns are
    never computed (each kept pixel is computed as the full frame would have it).
    """
    logits, original_size, frame_size, (input_h, input_w) = _checked(low_res_logits, original_size, frame_size)
    rows = tuple(t[:input_h] for t in linear_taps(logits.shape[-2], frame_size[0]))
    cols = tuple(t[:input_w] for t in linear_taps(logits.shape[-1], frame_size[1]))
    framed = _resize_with_taps(logits, rows, cols)
    if (input_h, input_w) == tuple(original_size):
        return framed  # a same-size bilinear resize is the identity (weights 1 and 0)
    return resize_bilinear(framed, original_size)


def binary_masks(
    low_res_logits: np.ndarray,
    original_size: tuple[int, int],
    frame_size: tuple[int, int] = (1024, 1024),
    threshold: float = 0.0,
) -> np.ndarray:
    """Mask logits [..., 4h, 4w] -> binary masks bool [..., H, W] at the original image size (H, W).

    ``postprocess_masks(low_res_logits, original_size, frame_size) > threshold``, computed
    without the frame or the float masks (``samcore.fast.mask_resize``): equal to it except
    where that logit lies within float32 rounding of the threshold.
    """
    logits, original_size, frame_size, input_size = _checked(low_res_logits, original_size, frame_size)
    kept = (min(input_size[0], frame_size[0]), min(input_size[1], frame_size[1]))  # the spec's crop of the frame
    return binary_masks_fast(logits, original_size, frame_size, kept, threshold)


def binary_masks_with_stability(
    low_res_logits: np.ndarray,
    original_size: tuple[int, int],
    frame_size: tuple[int, int] = (1024, 1024),
    mask_threshold: float = 0.0,
    threshold_offset: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mask logits [..., 4h, 4w] -> (binary masks bool [..., H, W], stability scores float32 [...])
    at the original image size (H, W): ``binary_masks`` and ``stability_score`` of
    ``postprocess_masks``' logits, computed in one pass without the float masks (equal to
    them except where a logit lies within float32 rounding of a threshold)."""
    logits, original_size, frame_size, input_size = _checked(low_res_logits, original_size, frame_size)
    kept = (min(input_size[0], frame_size[0]), min(input_size[1], frame_size[1]))
    levels = (mask_threshold + threshold_offset, mask_threshold - threshold_offset)
    masks, counts = masks_and_counts(logits, original_size, frame_size, kept, mask_threshold, levels)
    return masks, _area_ratio(counts[..., 0], counts[..., 1])


def _area_ratio(intersections: np.ndarray, unions: np.ndarray) -> np.ndarray:
    """intersections / unions as float32; 0/0 is NaN, as in Meta's code."""
    with np.errstate(invalid="ignore"):
        return (intersections / unions).astype(np.float32)


def stability_score(masks: np.ndarray, mask_threshold: float = 0.0, threshold_offset: float = 1.0) -> np.ndarray:
    """IoU of the masks thresholded at ``t + offset`` and ``t - offset``: masks [..., H, W] -> [...].

    0/0 (a mask empty at both thresholds) gives NaN, as in Meta's code.
    """
    intersections = (masks > (mask_threshold + threshold_offset)).sum(axis=(-1, -2), dtype=np.int64)
    unions = (masks > (mask_threshold - threshold_offset)).sum(axis=(-1, -2), dtype=np.int64)
    return _area_ratio(intersections, unions)
