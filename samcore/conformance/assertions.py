"""Assertions of the conformance kit: every failure says where, by how much, and how
to reproduce it."""

from __future__ import annotations

import numpy as np

from samcore.backend import Tolerance

#: Binarised masks (logits > 0) of a port and of the spec must overlap at least this much.
MIN_MASK_IOU = 0.99
#: How many mismatching elements a failure lists.
SHOWN_MISMATCHES = 5


def _report(what: str, lines: list[str], snippet: str) -> AssertionError:
    return AssertionError("\n".join([what, *lines, "reproduce with:", snippet]))


def assert_within(name: str, port: np.ndarray, spec: np.ndarray, tolerance: Tolerance, snippet: str) -> None:
    """|port - spec| <= atol + rtol * |spec| everywhere, else list the first mismatches."""
    if port.shape != spec.shape or port.dtype != np.float32:
        raise _report(f"{name}: expected float32 {list(spec.shape)}, got {port.dtype} {list(port.shape)}", [], snippet)
    diff = np.abs(port.astype(np.float64) - spec)
    bad = np.argwhere(~(diff <= tolerance.bound(spec)))  # NaN counts as bad
    if bad.size:
        lines = [
            f"  at {idx.tolist()}: port {port[tuple(idx)]:.7g}, spec {spec[tuple(idx)]:.7g}"
            for idx in bad[:SHOWN_MISMATCHES]
        ]
        raise _report(
            f"{name}: {len(bad)} of {spec.size} elements differ by more than {tolerance} "
            f"(max difference {np.nanmax(diff):.3g})",
            lines,
            snippet,
        )


def mask_iou(port_logits: np.ndarray, spec_logits: np.ndarray) -> np.ndarray:
    """IoU of the binarised masks (logits > 0) per mask: [B, M, H, W] -> [B, M].

    Two empty masks agree perfectly (IoU 1)."""
    a, b = port_logits > 0, spec_logits > 0
    inter = (a & b).sum(axis=(-1, -2))
    union = (a | b).sum(axis=(-1, -2))
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def assert_masks_agree(port_logits: np.ndarray, spec_logits: np.ndarray, snippet: str,
                       min_iou: float = MIN_MASK_IOU) -> None:
    """Every binarised mask of the port overlaps the spec's with IoU >= ``min_iou``, so a
    broken mask head cannot hide behind good IoU scores."""
    iou = mask_iou(port_logits, spec_logits)
    if (iou < min_iou).any():
        worst = np.unravel_index(np.argmin(iou), iou.shape)
        raise _report(
            f"binarised masks: IoU with the spec {iou[worst]:.4f} < {min_iou} at prompt {worst[0]}, "
            f"mask {worst[1]} ({int((iou < min_iou).sum())} of {iou.size} masks below)",
            [],
            snippet,
        )
