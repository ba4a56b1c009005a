"""Synthetic scenes for the default model: overlapping shapes on busy backgrounds.

NumPy only, seeded and deterministic: ``make_scene(np.random.default_rng(seed))``
always gives the same picture. A scene is drawn back to front (painter's order),
so later shapes occlude earlier ones; each ground-truth mask is the *visible* part
of one shape. Then the whole picture gets lighting, blur and sensor noise.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Shape kinds, drawn with equal probability.
KINDS = ("ellipse", "polygon", "star", "ring", "bar", "rectangle", "blob")


@dataclasses.dataclass(frozen=True)
class Scene:
    """One picture and the visible part of every shape in it that is big enough to prompt."""

    image: np.ndarray  # uint8 [H, W, 3], RGB
    masks: np.ndarray  # bool [N, H, W], visible part of each shape, back to front
    kinds: tuple[str, ...]  # N shape kinds (KINDS)


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (y, x), float32 [H, W] each."""
    y, x = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    return y + 0.5, x + 0.5


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Value noise in [0, 1], float32 [H, W]: a random ``cells`` x ``cells`` grid, bilinearly upsampled."""
    coarse = rng.random((cells + 1, cells + 1)).astype(np.float32)
    ys = np.linspace(0, cells, shape[0], dtype=np.float32)
    xs = np.linspace(0, cells, shape[1], dtype=np.float32)
    y0, x0 = np.minimum(ys.astype(int), cells - 1), np.minimum(xs.astype(int), cells - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x0 + 1] * fx
    bottom = coarse[y0 + 1][:, x0] * (1 - fx) + coarse[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, 3).astype(np.float32)


def _texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A fill pattern, float32 [H, W, 3] in 0..255: flat, gradient, stripes, checks or noise."""
    y, x = _grid(shape)
    a, b = _colour(rng), _colour(rng)
    style = rng.integers(5)
    if style == 0:
        return np.broadcast_to(a, (*shape, 3)).copy()
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    if style == 1:  # linear gradient
        t = (u - u.min()) / max(float(np.ptp(u)), 1.0)
    elif style == 2:  # stripes
        t = 0.5 + 0.5 * np.sin(u * 2 * np.pi / rng.uniform(4, 24))
    elif style == 3:  # checks
        period = rng.uniform(6, 24)
        v = -x * np.sin(angle) + y * np.cos(angle)
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    else:  # cloudy noise
        t = _smooth_noise(rng, shape, int(rng.integers(3, 12)))
    b = a + (b - a) * rng.uniform(0.2, 1.0)  # keep some textures subtle
    return a + t[..., None] * (b - a)


def _polygon(y: np.ndarray, x: np.ndarray, vy: np.ndarray, vx: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon over the pixel grid; vertices (vy, vx) in order."""
    inside = np.zeros(y.shape, bool)
    for i in range(len(vy)):
        y0, x0, y1, x1 = vy[i - 1], vx[i - 1], vy[i], vx[i]
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < xc)
    return inside


def _shape_mask(rng: np.random.Generator, kind: str, y: np.ndarray, x: np.ndarray, scale: float) -> np.ndarray:
    """Boolean [H, W] of one shape of ``kind``, ``scale`` = the picture's shorter side in pixels."""
    h, w = y.shape
    cy, cx = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
    r = scale * rng.uniform(0.08, 0.28)
    angle = rng.uniform(0, 2 * np.pi)
    dy, dx = y - cy, x - cx
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    if kind == "ellipse":
        return (u / r) ** 2 + (v / (r * rng.uniform(0.35, 1.0))) ** 2 <= 1
    if kind == "ring":
        ell = (u / r) ** 2 + (v / (r * rng.uniform(0.6, 1.0))) ** 2
        return (ell <= 1) & (ell >= rng.uniform(0.25, 0.6))
    if kind in ("bar", "rectangle"):
        half_len = r * (rng.uniform(1.2, 2.2) if kind == "bar" else rng.uniform(0.5, 1.0))
        half_wid = rng.uniform(1.5, 3.5) * scale / 128 if kind == "bar" else r * rng.uniform(0.3, 1.0)
        return (np.abs(u) <= half_len) & (np.abs(v) <= half_wid)
    theta = np.arctan2(v, u)
    if kind == "blob":
        radius = r * (1 + sum(rng.uniform(0, 0.2) * np.cos(k * theta + rng.uniform(0, 6.3)) for k in range(2, 5)))
        return u**2 + v**2 <= radius**2
    if kind == "star":
        points = int(rng.integers(4, 9))
        t = np.arange(2 * points) * np.pi / points + angle
        radii = np.where(np.arange(2 * points) % 2 == 0, r, r * rng.uniform(0.35, 0.6))
    else:  # polygon: 3-8 vertices at random angles and radii
        n = int(rng.integers(3, 9))
        t = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = r * rng.uniform(0.6, 1.0, n)
    return _polygon(y, x, cy + radii * np.sin(t), cx + radii * np.cos(t))


def _distinct_colour_fill(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A texture whose mean differs clearly from what it covers (objects must be visible)."""
    under = image[mask].mean(axis=0)
    for _ in range(8):
        fill = _texture(rng, image.shape[:2])
        if np.abs(fill[mask].mean(axis=0) - under).sum() > 90:
            break
    return fill


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of float32 [H, W, 3], edges clamped."""
    radius = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    k /= k.sum()
    for axis in (0, 1):
        padded = np.pad(image, [(radius, radius) if a == axis else (0, 0) for a in range(3)], mode="edge")
        n = image.shape[axis]
        image = sum(k[i] * padded.take(np.arange(i, i + n), axis=axis) for i in range(len(k)))
    return image


def make_scene(
    rng: np.random.Generator, size: tuple[int, int] = (128, 128), num_shapes: tuple[int, int] = (3, 8),
    min_area: float = 0.004,
) -> Scene:
    """Draw one scene of ``size`` (H, W) pixels with ``num_shapes`` (low, high inclusive) shapes.

    Masks of shapes whose visible part covers less than ``min_area`` of the picture
    are left out (the shapes are still drawn: they are clutter). Deterministic in ``rng``.
    """
    y, x = _grid(size)
    scale = float(min(size))
    image = _texture(rng, size)
    if rng.random() < 0.5:  # a second background layer under cloudy noise
        image = image + (_texture(rng, size) - image) * _smooth_noise(rng, size, int(rng.integers(2, 6)))[..., None]
    shapes, kinds = [], []
    for _ in range(int(rng.integers(num_shapes[0], num_shapes[1] + 1))):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        mask = _shape_mask(rng, kind, y, x, scale)
        if not mask.any():
            continue
        image = np.where(mask[..., None], _distinct_colour_fill(rng, image, mask), image)
        shapes.append(mask)
        kinds.append(kind)
    # Lighting: a smooth multiplicative field and a global brightness / contrast change.
    light = 1 + rng.uniform(0, 0.5) * (_smooth_noise(rng, size, 2) - 0.5) * 2
    image = image * light[..., None] * rng.uniform(0.7, 1.2) + rng.uniform(-20, 20)
    if rng.random() < 0.8:
        image = _blur(image, rng.uniform(0.3, 1.2))
    image = image + rng.normal(0, rng.uniform(0, 8), image.shape)
    visible, covered = [], np.zeros(size, bool)
    for mask in reversed(shapes):  # front to back: what is in front hides what is behind
        visible.append(mask & ~covered)
        covered |= mask
    visible.reverse()
    keep = [i for i, m in enumerate(visible) if m.mean() >= min_area]
    masks = np.stack([visible[i] for i in keep]) if keep else np.zeros((0, *size), bool)
    return Scene(np.clip(image, 0, 255).round().astype(np.uint8), masks, tuple(kinds[i] for i in keep))
