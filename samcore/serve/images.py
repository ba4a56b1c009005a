"""Uploaded image bytes -> uint8 RGB array, every failure a 4xx ``ServiceError``."""

from __future__ import annotations

import io

import numpy as np

from samcore.image_io import ImageFileError, read_image
from samcore.serve.errors import ServiceError
from samcore.serve.settings import IMAGE_TYPES


def check_content_type(content_type: str | None) -> None:
    """415 unless the request's Content-Type is one of ``IMAGE_TYPES`` (parameters ignored)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in IMAGE_TYPES:
        raise ServiceError(415, "unsupported_media_type",
                           f"Content-Type: expected one of {sorted(IMAGE_TYPES)}, got {content_type!r}")


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """The image file in ``data`` as uint8 [H, W, 3] RGB, EXIF orientation applied (``read_image``).

    400 not_an_image (no JPEG/PNG/WebP inside), 413 too_many_pixels (H * W over
    ``max_pixels``: checked from the header, before any pixel is decoded), 400
    truncated_image (the pixel data ends early or is corrupt).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=sorted(set(IMAGE_TYPES.values()))) as header:
            width, height = header.size
    except UnidentifiedImageError:
        raise ServiceError(400, "not_an_image", f"body: expected a JPEG, PNG or WebP file, got {len(data)} bytes "
                           "that are none of them") from None
    except Image.DecompressionBombError as exc:  # over Pillow's own limit (2 x Image.MAX_IMAGE_PIXELS)
        raise ServiceError(413, "too_many_pixels", f"image: expected at most {max_pixels} pixels ({exc})") from None
    if width * height > max_pixels:
        raise ServiceError(413, "too_many_pixels",
                           f"image: expected at most {max_pixels} pixels, got {width}x{height} = {width * height}")
    try:
        return read_image(data, max_pixels)
    except ImageFileError as exc:
        raise ServiceError(400, "truncated_image", f"image: the file is truncated or corrupt ({exc})") from None
