"""Small disconnected regions and holes of a mask (Meta's ``remove_small_regions``).

Meta labels connected components with OpenCV (``cv2.connectedComponentsWithStats``,
8-connectivity, for holes and islands alike). samcore uses ``scipy.ndimage.label``
with the 3x3 structuring element, which is 8-connectivity: the same components,
so the same masks (the ``everything`` extra installs SciPy). SciPy rather than OpenCV
because it is a smaller, pure-wheel dependency that the rest of the scientific
stack already carries, and because only component labels and sizes are needed.
The one difference: when every island is small, Meta keeps the largest; between
islands of equal largest size the two libraries may number them differently and
so keep a different one.
"""

from __future__ import annotations

import numpy as np

from samcore.errors import InputError
from samcore.extras import requires_extra

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def require_scipy():  # -> the scipy.ndimage module
    """``scipy.ndimage``, or a SamcoreError naming the extra that installs it."""
    with requires_extra("everything", "min_mask_region_area > 0 (SciPy)"):
        from scipy import ndimage
    return ndimage


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    return require_scipy().label(mask, structure=_EIGHT_CONNECTED)


def remove_small_regions(mask: np.ndarray, area_thresh: float, mode: str) -> tuple[np.ndarray, bool]:
    """Fill holes (``mode="holes"``) or drop islands (``"islands"``) smaller than
    ``area_thresh`` pixels in a bool mask [H, W]; returns the mask and whether it changed.
    If every island is small, the largest is kept."""
    if mode not in ("holes", "islands"):
        raise InputError(f"mode: expected 'holes' or 'islands', got {mode!r}")
    correct_holes = mode == "holes"
    regions, n_labels = _label(np.asarray(mask, bool) ^ correct_holes)
    sizes = np.bincount(regions.ravel(), minlength=n_labels + 1)[1:]
    small = np.flatnonzero(sizes < area_thresh) + 1
    if len(small) == 0:
        return mask, False
    fill = np.zeros(n_labels + 1, bool)
    fill[small] = True
    fill[0] = True
    if not correct_holes:
        fill = ~fill
        if not fill.any():
            fill[int(np.argmax(sizes)) + 1] = True
    return fill[regions], True
