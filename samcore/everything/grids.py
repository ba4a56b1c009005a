"""Where everything mode prompts: point grids per crop layer and the crop boxes.

Exact to Meta's ``build_point_grid``, ``build_all_layer_point_grids`` and
``generate_crop_boxes`` (``segment_anything.utils.amg``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def build_point_grid(n_per_side: int) -> np.ndarray:
    """float64 [n*n, 2]: (x, y) points evenly spaced in [0, 1]^2, centred in their cells, x fastest."""
    offset = 1 / (2 * n_per_side)
    side = np.linspace(offset, 1 - offset, n_per_side)
    xs = np.tile(side[None, :], (n_per_side, 1))
    ys = np.tile(side[:, None], (1, n_per_side))
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def build_all_layer_point_grids(n_per_side: int, n_layers: int, scale_per_layer: int) -> list[np.ndarray]:
    """One grid per crop layer 0..n_layers; layer i has ``int(n_per_side / scale_per_layer**i)`` points a side."""
    return [build_point_grid(int(n_per_side / (scale_per_layer**i))) for i in range(n_layers + 1)]


def _crop_len(orig_len: int, n_crops: int, overlap: int) -> int:
    return math.ceil((overlap * (n_crops - 1) + orig_len) / n_crops)


def generate_crop_boxes(
    im_size: tuple[int, int], n_layers: int, overlap_ratio: float
) -> tuple[list[list[int]], list[int]]:
    """Crop boxes [x0, y0, x1, y1] (pixels) of an image of ``im_size`` (H, W) and each box's layer.

    Layer 0 is the whole image; layer i >= 1 has (2**i)**2 crops overlapping by
    ``overlap_ratio * short side * 2 / 2**i`` pixels, listed column by column.
    """
    im_h, im_w = im_size
    short_side = min(im_h, im_w)
    boxes, layers = [[0, 0, im_w, im_h]], [0]
    for i_layer in range(n_layers):
        n_per_side = 2 ** (i_layer + 1)
        overlap = int(overlap_ratio * short_side * (2 / n_per_side))
        crop_w = _crop_len(im_w, n_per_side, overlap)
        crop_h = _crop_len(im_h, n_per_side, overlap)
        x0s = [int((crop_w - overlap) * i) for i in range(n_per_side)]
        y0s = [int((crop_h - overlap) * i) for i in range(n_per_side)]
        for x0, y0 in itertools.product(x0s, y0s):
            boxes.append([x0, y0, min(x0 + crop_w, im_w), min(y0 + crop_h, im_h)])
            layers.append(i_layer + 1)
    return boxes, layers
