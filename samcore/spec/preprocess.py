"""From a picture to the encoder's input, exact to Meta's ``SamPredictor.set_image``.

Resize so the longest side is the frame size (Meta's ``ResizeLongestSide.apply_image``:
torchvision's resize of a PIL image, i.e. Pillow's bilinear filter on the uint8 image),
normalise each channel by SAM's pixel mean and std, and zero pad at the bottom and
right to the square frame. The resize needs Pillow (``samcore[image]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from samcore.errors import InputError, InputTypeError, SamcoreError
from samcore.transforms import preprocess_shape

IMAGE_FORMATS = ("RGB", "BGR")


def check_image(image: Any, image_format: str = "RGB") -> np.ndarray:
    """``image`` as uint8 [H, W, 3] RGB (channels reversed for ``image_format="BGR"``)."""
    if image_format not in IMAGE_FORMATS:
        raise InputError(f"image_format: expected one of {list(IMAGE_FORMATS)}, got {image_format!r}")
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise InputTypeError(f"image: expected a uint8 array [H, W, 3], got dtype {array.dtype}")
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) == 0:
        raise InputError(f"image: expected shape [H, W, 3] with H, W > 0, got {list(array.shape)}")
    return array[..., ::-1] if image_format == "BGR" else array


def resize_longest_side(image: np.ndarray, target: int) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [h, w, 3] with max(h, w) = ``target`` (``preprocess_shape``),
    by Pillow's bilinear resize, as ``ResizeLongestSide.apply_image`` does."""
    try:
        from PIL import Image
    except ImportError:
        raise SamcoreError("resizing an image needs Pillow: pip install 'samcore[image]'") from None
    h, w = preprocess_shape(image.shape[:2], target)
    picture = Image.fromarray(np.ascontiguousarray(image))
    return np.asarray(picture.resize((w, h), Image.Resampling.BILINEAR))


def normalize_and_pad(
    image: np.ndarray, img_size: int, pixel_mean: Sequence[float], pixel_std: Sequence[float]
) -> np.ndarray:
    """uint8 [h, w, 3] (h, w <= img_size) -> float32 [1, 3, img_size, img_size]:
    ``(pixel - mean) / std`` per channel, zeros below and right of the image."""
    h, w = image.shape[:2]
    mean = np.asarray(pixel_mean, np.float32)
    std = np.asarray(pixel_std, np.float32)
    frame = np.zeros((1, 3, img_size, img_size), np.float32)
    frame[0, :, :h, :w] = ((image.astype(np.float32) - mean) / std).transpose(2, 0, 1)
    return frame


def preprocess(
    image: Any, img_size: int, pixel_mean: Sequence[float], pixel_std: Sequence[float], image_format: str = "RGB"
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """A picture uint8 [H, W, 3] -> (encoder input float32 [1, 3, S, S], original size (H, W),
    input size (h, w) of the resized image inside the frame), as ``SamPredictor.set_image``."""
    rgb = check_image(image, image_format)
    resized = resize_longest_side(rgb, img_size)
    return normalize_and_pad(resized, img_size, pixel_mean, pixel_std), rgb.shape[:2], resized.shape[:2]
