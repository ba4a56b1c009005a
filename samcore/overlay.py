"""Pictures of masks and prompts, NumPy only: a tinted mask with its outline, clicks and boxes.

Every function takes and returns uint8 RGB images [H, W, 3]; coordinates are (x, y)
pixels of that image, as prompts are given to ``Predictor``.
"""

from __future__ import annotations

import numpy as np

from samcore.errors import InputError

MASK_COLOUR = (30, 144, 255)
FOREGROUND_COLOUR = (40, 220, 60)
BACKGROUND_COLOUR = (230, 40, 40)
BOX_COLOUR = (255, 215, 0)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"image: expected a uint8 array [H, W, 3], got {got}")


def overlay_mask(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = MASK_COLOUR,
                 alpha: float = 0.5) -> np.ndarray:
    """``image`` with ``mask`` (bool [H, W]) tinted by ``colour`` at ``alpha`` and outlined in it."""
    _check_image(image)
    mask = np.asarray(mask)
    if mask.shape != image.shape[:2]:
        raise InputError(f"mask: expected shape {image.shape[:2]} (the image's), got {mask.shape}")
    mask = mask.astype(bool)
    out = image.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * np.array(colour, np.float32)
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    edge = mask & ~inner
    thick = edge.copy()  # two pixels wide, so the outline shows at any size
    thick[1:] |= edge[:-1]
    thick[:, 1:] |= edge[:, :-1]
    out[thick & mask] = colour
    return out.round().astype(np.uint8)


def draw_points(image: np.ndarray, coords: np.ndarray, labels: np.ndarray, radius: int | None = None) -> np.ndarray:
    """``image`` with clicks drawn as discs: coords [N, 2] (x, y), labels [N] (1 green foreground, 0 red background)."""
    _check_image(image)
    out = image.copy()
    h, w = image.shape[:2]
    radius = radius or max(3, round(min(h, w) / 60))
    y, x = np.mgrid[:h, :w]
    for (px, py), label in zip(np.asarray(coords, np.float32), np.asarray(labels), strict=True):
        d2 = (x - px) ** 2 + (y - py) ** 2
        out[d2 <= (radius + 1.5) ** 2] = 255  # white rim
        out[d2 <= radius**2] = FOREGROUND_COLOUR if label == 1 else BACKGROUND_COLOUR
    return out


def draw_box(image: np.ndarray, box: np.ndarray, colour: tuple[int, int, int] = BOX_COLOUR) -> np.ndarray:
    """``image`` with ``box`` [4] (x0, y0, x1, y1) drawn as a rectangle two pixels wide."""
    _check_image(image)
    out = image.copy()
    h, w = image.shape[:2]
    x0, y0, x1, y1 = np.round(np.asarray(box, np.float32)).astype(int)
    x0, x1 = np.clip([x0, x1], 0, w - 1)
    y0, y1 = np.clip([y0, y1], 0, h - 1)
    for t in range(2):
        out[y0:y1 + 1, min(x0 + t, w - 1)] = out[y0:y1 + 1, max(x1 - t, 0)] = colour
        out[min(y0 + t, h - 1), x0:x1 + 1] = out[max(y1 - t, 0), x0:x1 + 1] = colour
    return out
