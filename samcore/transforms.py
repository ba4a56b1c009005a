"""From original-image pixels to the encoder's input frame (Meta's ``ResizeLongestSide``).

SAM resizes an image so its longest side is ``long_side`` (1024) and pads the
rest; prompts given in original pixels are scaled the same way.
"""

from __future__ import annotations

import numpy as np


def preprocess_shape(original_size: tuple[int, int], long_side: int = 1024) -> tuple[int, int]:
    """(H, W) of an image of ``original_size`` (H, W) resized so its longest side is ``long_side``."""
    old_h, old_w = original_size
    scale = long_side * 1.0 / max(old_h, old_w)
    return int(old_h * scale + 0.5), int(old_w * scale + 0.5)


def apply_coords(coords: np.ndarray, original_size: tuple[int, int], long_side: int = 1024) -> np.ndarray:
    """Points [..., 2] (x, y) in original pixels -> input-frame pixels, float64 as Meta's."""
    new_h, new_w = preprocess_shape(original_size, long_side)
    scaled = np.array(coords, dtype=np.float64)
    scaled[..., 0] *= new_w / original_size[1]
    scaled[..., 1] *= new_h / original_size[0]
    return scaled


def apply_boxes(boxes: np.ndarray, original_size: tuple[int, int], long_side: int = 1024) -> np.ndarray:
    """Boxes [..., 4] (x0, y0, x1, y1) in original pixels -> input-frame pixels [B, 4]."""
    corners = apply_coords(np.asarray(boxes).reshape(-1, 2, 2), original_size, long_side)
    return corners.reshape(-1, 4)
