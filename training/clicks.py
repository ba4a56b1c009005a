"""Where a user would click: inside a mask, into an error region, around an object.

Coordinates are SAM's: (x, y) pixel indices of the image (SAM adds the half pixel).
All functions are batched over masks [P, H, W] and NumPy only.
"""

from __future__ import annotations

import numpy as np


def erode(masks: np.ndarray) -> np.ndarray:
    """One step of 4-neighbour erosion of bool [P, H, W] (outside the picture counts as empty)."""
    out = masks.copy()
    out[:, 1:] &= masks[:, :-1]
    out[:, :-1] &= masks[:, 1:]
    out[:, :, 1:] &= masks[:, :, :-1]
    out[:, :, :-1] &= masks[:, :, 1:]
    out[:, 0] = out[:, -1] = out[:, :, 0] = out[:, :, -1] = False
    return out


def interior_points(masks: np.ndarray) -> np.ndarray:
    """The point of each mask farthest inside it (its deepest erosion), float32 [P, 2] (x, y).

    Among the deepest pixels, the one nearest their mean; an empty mask gives (0, 0).
    This is "the object's centre" a user clicks, also for rings and bars.
    """
    deepest = masks.copy()
    current = masks
    while current.any():
        current = erode(current)
        alive = current.reshape(len(masks), -1).any(axis=1)
        deepest[alive] = current[alive]
    points = np.zeros((len(masks), 2), np.float32)
    for i, mask in enumerate(deepest):
        ys, xs = np.nonzero(mask)
        if len(ys):
            j = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
            points[i] = xs[j], ys[j]
    return points


def random_points(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One uniformly drawn pixel of each mask, float32 [P, 2] (x, y); (0, 0) for an empty mask."""
    points = np.zeros((len(masks), 2), np.float32)
    for i, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        if len(ys):
            j = rng.integers(len(ys))
            points[i] = xs[j], ys[j]
    return points


def correction_clicks(
    predicted: np.ndarray, target: np.ndarray, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The next click for each prediction: into its larger error, as a user corrects SAM.

    predicted, target: bool [P, H, W]. A missed region gets a foreground click (label 1),
    a spurious one a background click (label 0). Without ``rng`` the click is the
    error region's deepest point (the evaluation protocol); with it, a uniform draw
    from that region. Returns (points float32 [P, 2] (x, y), labels int64 [P]).
    """
    missed, spurious = target & ~predicted, predicted & ~target
    positive = missed.reshape(len(target), -1).sum(1) >= spurious.reshape(len(target), -1).sum(1)
    region = np.where(positive[:, None, None], missed, spurious)
    points = interior_points(region) if rng is None else random_points(rng, region)
    return points, positive.astype(np.int64)


def tight_boxes(masks: np.ndarray) -> np.ndarray:
    """The tight box of each mask, float32 [P, 4] (x0, y0, x1, y1), pixel indices."""
    boxes = np.zeros((len(masks), 4), np.float32)
    for i, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        if len(ys):
            boxes[i] = xs.min(), ys.min(), xs.max(), ys.max()
    return boxes
