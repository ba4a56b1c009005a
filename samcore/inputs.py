"""Checks of everything a caller passes to ``Decoder.predict``, shared by every backend.

Each check converts to the canonical dtype (float32 values, int64 labels) and
raises an ``InputError`` / ``InputTypeError`` naming the argument, what was
expected and what came, before any math runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from samcore.config import NUM_POINT_EMBEDDINGS
from samcore.errors import InputError, InputTypeError
from samcore.spec.prompt_encoder import gather_point_prompts

LABEL_RANGE = (-1, NUM_POINT_EMBEDDINGS - 1)


@dataclasses.dataclass(frozen=True)
class Prompts:
    """Checked prompts for B prompts on one image (any of the three may be absent)."""

    point_coords: np.ndarray | None  # [B, N, 2] float32, (x, y) pixels of the input frame
    point_labels: np.ndarray | None  # [B, N] int64 in -1..3
    boxes: np.ndarray | None  # [B, 4] float32, x0, y0, x1, y1
    mask_input: np.ndarray | None  # [B, 1, 4h, 4w] float32 logits
    batch: int

    def labelled_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The sparse prompts as SAM's labelled points (``gather_point_prompts``): coords
        [B, N', 2] float32, labels [B, N'] int64; N' = 0 for a mask alone."""
        if self.point_coords is None and self.boxes is None:
            return np.zeros((self.batch, 0, 2), np.float32), np.zeros((self.batch, 0), np.int64)
        return gather_point_prompts(self.point_coords, self.point_labels, self.boxes)

    def chunk(self, start: int, stop: int) -> Prompts:
        """Prompts start..stop-1 of the batch."""
        part = slice(start, stop)
        arrays = (self.point_coords, self.point_labels, self.boxes, self.mask_input)
        return Prompts(*(None if a is None else a[part] for a in arrays), len(range(self.batch)[part]))


def _array(name: str, value: Any, kinds: str, expected: str) -> np.ndarray:
    """``value`` as an array whose dtype kind is in ``kinds`` ('f' float, 'iu' integer)."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and objects NumPy cannot hold
        raise InputTypeError(f"{name}: expected {expected}, got {type(value).__name__} ({exc})") from None
    if array.dtype.kind not in kinds:
        raise InputTypeError(f"{name}: expected {expected}, got dtype {array.dtype}")
    return array


def _shape_error(name: str, expected: str, array: np.ndarray) -> InputError:
    return InputError(f"{name}: expected shape {expected}, got {list(array.shape)}")


def _finite(name: str, array: np.ndarray) -> np.ndarray:
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0].tolist()
        raise InputError(f"{name}: expected finite values, got {array[tuple(bad)]} at index {bad}")
    return array


def _within(name: str, values: np.ndarray, upper: np.ndarray, what: str) -> None:
    """Every (x, y) pair in ``values`` [..., 2] lies in [0, upper]."""
    outside = (values < 0) | (values > upper)
    if outside.any():
        bad = np.argwhere(outside.any(axis=-1))[0].tolist()
        raise InputError(
            f"{name}: expected {what} inside the input frame 0..{upper[0]:g} (x), 0..{upper[1]:g} (y) "
            f"in pixels of the encoder's input, got {values[tuple(bad)].tolist()} at index {bad}; "
            "transform original-image coordinates first (samcore.transforms.apply_coords)"
        )


def check_image_size(name: str, size: Any) -> tuple[int, int]:
    """An image size (H, W) in pixels: two integers >= 1 (integral floats accepted)."""
    try:
        if isinstance(size, str):
            raise TypeError(size)
        values = [float(v) for v in size]
    except (TypeError, ValueError):
        raise InputTypeError(f"{name}: expected (H, W), two integers >= 1 in pixels, got {size!r}") from None
    if len(values) != 2 or not all(np.isfinite(v) and v == int(v) and v >= 1 for v in values):
        raise InputError(f"{name}: expected (H, W), two integers >= 1 in pixels, got {tuple(size)!r}")
    return int(values[0]), int(values[1])


def _integer_labels(labels: np.ndarray) -> np.ndarray:
    """Labels as int64; float labels pass when every value is integral (Meta's predictor casts them)."""
    if labels.dtype.kind == "f":
        fractional = ~np.isfinite(labels) | (labels != np.round(labels))
        if fractional.any():
            bad = np.argwhere(fractional)[0].tolist()
            raise InputError(
                f"point_labels: expected integer values (-1, 0, 1, 2, 3), got {labels[tuple(bad)]} at index {bad}"
            )
    return labels.astype(np.int64)


def check_prompts_per_run(prompts_per_run: Any) -> int | None:
    """``prompts_per_run`` (``Decoder.predict``'s speed hint): None or an integer >= 1."""
    if prompts_per_run is None:
        return None
    if isinstance(prompts_per_run, bool) or not isinstance(prompts_per_run, (int, np.integer)) or prompts_per_run < 1:
        raise InputError(f"prompts_per_run: expected None or an integer >= 1, got {prompts_per_run!r}")
    return int(prompts_per_run)


def check_embedding(image_embedding: Any, embed_dim: int) -> np.ndarray:
    """One image embedding, [1, C, h, w] or [C, h, w], as float32 [1, C, h, w]."""
    name = "image_embedding"
    array = _array(name, image_embedding, "f", "a float array [1, C, h, w]")
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[0] != 1 or array.shape[1] != embed_dim or 0 in array.shape:
        raise _shape_error(name, f"[1, {embed_dim}, h, w] or [{embed_dim}, h, w] with h, w >= 1", array)
    return _finite(name, np.ascontiguousarray(array, np.float32))


def _check_points(point_coords: Any, point_labels: Any, frame: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    if point_coords is None or point_labels is None:
        given, missing = ("point_coords", "point_labels") if point_labels is None else ("point_labels", "point_coords")
        raise InputError(f"{missing}: expected an array since {given} is given, got None")
    coords = _array("point_coords", point_coords, "fiu", "a numeric array [B, N, 2]")
    if coords.ndim != 3 or coords.shape[2] != 2 or coords.shape[0] == 0 or coords.shape[1] == 0:
        raise _shape_error("point_coords", "[B, N, 2] with B, N >= 1 (add a batch axis for one prompt)", coords)
    labels = _array("point_labels", point_labels, "iuf", "an integer array [B, N]")
    if labels.shape != coords.shape[:2]:
        raise _shape_error("point_labels", f"{list(coords.shape[:2])} (one label per point)", labels)
    labels = _integer_labels(labels)
    outside = (labels < LABEL_RANGE[0]) | (labels > LABEL_RANGE[1])
    if outside.any():
        bad = sorted(set(labels[outside].tolist()))
        raise InputError(
            f"point_labels: expected values in {LABEL_RANGE[0]}..{LABEL_RANGE[1]} (-1 padding, 0 background, "
            f"1 foreground, 2/3 box corners), got {bad}"
        )
    coords = _finite("point_coords", coords.astype(np.float32))
    _within("point_coords", coords, np.array(frame[::-1], np.float32), "points")
    return coords, labels


def _check_boxes(boxes: Any, frame: tuple[int, int]) -> np.ndarray:
    array = _array("boxes", boxes, "fiu", "a numeric array [B, 4]")
    if array.ndim != 2 or array.shape[1] != 4 or array.shape[0] == 0:
        raise _shape_error("boxes", "[B, 4] (x0, y0, x1, y1) with B >= 1", array)
    array = _finite("boxes", array.astype(np.float32))
    corners = array.reshape(-1, 2, 2)
    _within("boxes", corners, np.array(frame[::-1], np.float32), "box corners")
    reversed_ = (corners[:, 0] > corners[:, 1]).any(axis=-1)
    if reversed_.any():
        i = int(np.argmax(reversed_))
        raise InputError(f"boxes: expected x0 <= x1 and y0 <= y1, got {array[i].tolist()} at index {i}")
    return array


def _check_mask(mask_input: Any, grid: tuple[int, int]) -> np.ndarray:
    expected = f"[B, 1, {4 * grid[0]}, {4 * grid[1]}] (4x the embedding grid)"
    array = _array("mask_input", mask_input, "f", f"a float array {expected}")
    if array.ndim != 4 or array.shape[1:] != (1, 4 * grid[0], 4 * grid[1]) or array.shape[0] == 0:
        raise _shape_error("mask_input", expected, array)
    return _finite("mask_input", np.ascontiguousarray(array, np.float32))


def check_prompts(
    point_coords: Any,
    point_labels: Any,
    boxes: Any,
    mask_input: Any,
    grid: tuple[int, int],
    frame: tuple[int, int],
) -> Prompts:
    """Check B prompts for an embedding grid (h, w) and input frame (H, W) in pixels.

    Points and labels come together; every given prompt kind has the same batch B;
    at least one kind is given.
    """
    coords = labels = box = mask = None
    batches: dict[str, int] = {}
    if point_coords is not None or point_labels is not None:
        coords, labels = _check_points(point_coords, point_labels, frame)
        batches["point_coords"] = coords.shape[0]
    if boxes is not None:
        box = _check_boxes(boxes, frame)
        batches["boxes"] = box.shape[0]
    if mask_input is not None:
        mask = _check_mask(mask_input, grid)
        batches["mask_input"] = mask.shape[0]
    if not batches:
        raise InputError("prompts: expected point_coords/point_labels, boxes or mask_input, got none of them")
    if len(set(batches.values())) > 1:
        raise InputError(f"prompts: expected one batch size B for every prompt kind, got {batches}")
    return Prompts(coords, labels, box, mask, next(iter(batches.values())))
