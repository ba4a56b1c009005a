"""From original-image pixels to the encoder's input frame (Meta's ``ResizeLongestSide``).

SAM resizes an image so its longest side is ``long_side`` (1024) and pads the
rest; prompts given in original pixels are scaled the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from samcore.errors import InputError, InputTypeError
from samcore.inputs import check_image_size


def preprocess_shape(original_size: tuple[int, int], long_side: int = 1024) -> tuple[int, int]:
    """(H, W) of an image of ``original_size`` (H, W) resized so its longest side is ``long_side``."""
    old_h, old_w = check_image_size("original_size", original_size)
    if isinstance(long_side, bool) or not isinstance(long_side, int | np.integer) or long_side < 1:
        raise InputError(f"long_side: expected an integer >= 1 (pixels), got {long_side!r}")
    scale = long_side * 1.0 / max(old_h, old_w)
    return int(old_h * scale + 0.5), int(old_w * scale + 0.5)


def _numeric(name: str, value: Any, last: int, expected: str) -> np.ndarray:
    """``value`` as float64 with ``last`` values on its last axis."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name}: expected {expected}, got {type(value).__name__} ({exc})") from None
    if array.ndim == 0 or array.shape[-1] != last:
        raise InputError(f"{name}: expected {expected}, got shape {list(array.shape)}")
    return array


def apply_coords(coords: np.ndarray, original_size: tuple[int, int], long_side: int = 1024) -> np.ndarray:
    """Points [..., 2] (x, y) in original pixels -> input-frame pixels, float64 as Meta's."""
    original_size = check_image_size("original_size", original_size)
    new_h, new_w = preprocess_shape(original_size, long_side)
    scaled = _numeric("coords", coords, 2, "numbers [..., 2] (x, y)")
    scaled[..., 0] *= new_w / original_size[1]
    scaled[..., 1] *= new_h / original_size[0]
    return scaled


def apply_boxes(boxes: np.ndarray, original_size: tuple[int, int], long_side: int = 1024) -> np.ndarray:
    """Boxes [..., 4] (x0, y0, x1, y1) in original pixels -> input-frame pixels [B, 4]."""
    corners = apply_coords(_numeric("boxes", boxes, 4, "numbers [..., 4] (x0, y0, x1, y1)").reshape(-1, 2, 2),
                           original_size, long_side)
    return corners.reshape(-1, 4)
