"""Binary masks at the image's size straight from low-res logits: ``postprocess_masks(...) > t``
without the frame.

``samcore.postprocess.postprocess_masks`` (the spec) resizes each axis twice, bilinearly: up
to the encoder's frame, keep the image's part (crop the padding), then to the image's size.
Both steps are linear, so each axis composes into one matrix A [out, low] (``axis_matrix``)
and the masks are ``A_rows @ logits @ A_cols^T``. A row of A has at most 3 nonzero weights,
on consecutive low-res pixels (two adjacent frame pixels, each between two low-res pixels),
so a block of consecutive outputs reads a narrow band of low-res pixels (``bands``): each
product runs as small GEMMs of depth ~ block * low / out + 3 instead of ``low``.

Order, a few masks at a time: columns first, on the low-res rows the image uses ([used, W]
per mask, a few percent of the output), then strips of output rows, each thresholded
while in cache. Neither the frame [N, 1024, 1024] nor the float masks [N, H, W] are
materialised.

Only float32 rounding differs from the spec (weights composed in float64, products summed
in another order): a pixel can differ only where the spec's logit lies within rounding
of the threshold.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from samcore.spec.ops import linear_taps

#: Output rows per strip of the second product (the strip's floats stay in cache).
ROW_STRIP = 16
#: Output columns per band of the first product.
COLUMN_BLOCK = 128
#: Bytes of float32 strips computed at once (masks are taken in groups that fit).
STRIP_BYTES = 1 << 20


class Band(NamedTuple):
    """Outputs ``start:stop`` of one axis read low-res pixels ``low_start:low_stop`` only."""

    start: int
    stop: int
    low_start: int
    low_stop: int
    weights: np.ndarray  # float32 [stop - start, low_stop - low_start], read-only


@functools.lru_cache(maxsize=32)
def axis_matrix(low: int, frame: int, kept: int, out: int) -> np.ndarray:
    """One axis of the spec's resize as weights float32 [out, low] (read-only): bilinear
    ``low`` -> ``frame`` pixels, the first ``kept`` of them, bilinear -> ``out`` pixels."""
    up_first, up_second, up_weight = (taps[:kept] for taps in linear_taps(low, frame))
    down_first, down_second, down_weight = linear_taps(kept, out)
    up_weight, down_weight = up_weight.astype(np.float64), down_weight.astype(np.float64)
    matrix = np.zeros((out, low))
    outputs = np.arange(out)
    for frame_pixel, weight in ((down_first, 1 - down_weight), (down_second, down_weight)):
        np.add.at(matrix, (outputs, up_first[frame_pixel]), weight * (1 - up_weight[frame_pixel]))
        np.add.at(matrix, (outputs, up_second[frame_pixel]), weight * up_weight[frame_pixel])
    matrix = matrix.astype(np.float32)
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=32)
def bands(low: int, frame: int, kept: int, out: int, block: int) -> tuple[Band, ...]:
    """``axis_matrix(low, frame, kept, out)`` cut into blocks of ``block`` outputs, each with
    the band of low-res pixels its nonzero weights touch."""
    matrix = axis_matrix(low, frame, kept, out)
    result = []
    for start in range(0, out, block):
        part = matrix[start : start + block]
        touched = np.flatnonzero(part.any(axis=0))
        low_start, low_stop = int(touched[0]), int(touched[-1]) + 1
        weights = np.ascontiguousarray(part[:, low_start:low_stop])
        weights.setflags(write=False)
        result.append(Band(start, start + len(part), low_start, low_stop, weights))
    return tuple(result)


def binary_masks_fast(
    logits: np.ndarray,
    original_size: tuple[int, int],
    frame_size: tuple[int, int],
    kept_size: tuple[int, int],
    threshold: float = 0.0,
    row_strip: int = ROW_STRIP,
    column_block: int = COLUMN_BLOCK,
) -> np.ndarray:
    """Mask logits float32 [..., h, w] -> bool [..., H, W] at ``original_size`` (H, W):
    ``postprocess_masks(logits, original_size, frame_size) > threshold``.

    ``kept_size``: (rows, columns) of the frame the image fills (``preprocess_shape``);
    inputs are checked by the caller (``samcore.postprocess.binary_masks``).
    ``row_strip``, ``column_block``: band sizes (outputs per small GEMM), for benchmarks.
    """
    return masks_and_counts(logits, original_size, frame_size, kept_size, threshold, (), row_strip, column_block)[0]


def masks_and_counts(
    logits: np.ndarray,
    original_size: tuple[int, int],
    frame_size: tuple[int, int],
    kept_size: tuple[int, int],
    threshold: float,
    count_above: tuple[float, ...],
    row_strip: int = ROW_STRIP,
    column_block: int = COLUMN_BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """``binary_masks_fast``'s masks bool [..., H, W], and for each level of ``count_above``
    the number of pixels whose resized logit exceeds it: int64 [..., len(count_above)]
    (``(postprocess_masks(...) > level).sum((-1, -2))``, e.g. a stability score's two
    areas), from the same strips of resized logits while they are in cache."""
    *lead, low_h, low_w = logits.shape
    height, width = original_size
    flat = logits.reshape(-1, low_h, low_w)
    row_bands = bands(low_h, frame_size[0], kept_size[0], height, row_strip)
    column_bands = bands(low_w, frame_size[1], kept_size[1], width, column_block)
    used = row_bands[-1].low_stop  # the image's last row reads the last low-res row it needs
    masks = np.empty((len(flat), height, width), bool)
    counts = np.zeros((len(flat), len(count_above)), np.int64)
    group = max(1, STRIP_BYTES // (4 * row_strip * width))  # masks at once, so a strip of rows stays in cache
    wide = np.empty((min(group, len(flat)), used, width), np.float32)  # the used low-res rows, resized along x
    strip = np.empty((len(wide), row_strip, width), np.float32)
    for first in range(0, len(flat), group):
        part = slice(first, min(first + group, len(flat)))
        count = part.stop - first
        for band in column_bands:
            columns = flat[part, :used, band.low_start : band.low_stop]
            np.matmul(columns, band.weights.T, out=wide[:count, :, band.start : band.stop])
        for band in row_bands:
            rows = strip[:count, : band.stop - band.start]
            np.matmul(band.weights, wide[:count, band.low_start : band.low_stop], out=rows)
            np.greater(rows, threshold, out=masks[part, band.start : band.stop])
            for level, above in enumerate(count_above):
                counts[part, level] += np.count_nonzero(rows > above, axis=(1, 2))
    return masks.reshape(*lead, height, width), counts.reshape(*lead, len(count_above))
